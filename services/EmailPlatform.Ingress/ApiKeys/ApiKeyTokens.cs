using System.Security.Cryptography;
using System.Text;

namespace EmailPlatform.Ingress.ApiKeys;

/// <summary>
/// Key material: <c>ep_live_</c> followed by 32 random bytes in base64url (256 bits). With that much entropy a
/// single SHA-256 is the right hash: lookups stay O(1) and a leaked table reveals nothing usable.
/// </summary>
internal static class ApiKeyTokens
{
    public const string Prefix = "ep_live_";
    private const int DisplayedLength = 12;

    public static string Generate() =>
        Prefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    public static string Display(string key) => key[..Math.Min(DisplayedLength, key.Length)];
}
