using System.Globalization;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Ingress;

/// <summary>What data annotations cannot say about <see cref="IngressOptions"/>; each message names its key.</summary>
internal sealed class IngressOptionsValidator : IValidateOptions<IngressOptions>
{
    public ValidateOptionsResult Validate(string? name, IngressOptions options)
    {
        var failures = new List<string>();
        if (options.StatusUrl is { } url && (!url.IsAbsoluteUri || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps)))
        {
            failures.Add($"Ingress:StatusUrl must be an absolute http(s) URL; got '{url}'.");
        }

        if (options.MessageIdDomain is { } domain && !IsHostName(domain))
        {
            failures.Add($"Ingress:MessageIdDomain must be a host name such as mail.example.com; got '{domain}'.");
        }

        if (options.ReturnPath is { Length: > 0 } returnPath && !IsReturnPath(returnPath))
        {
            failures.Add($"Ingress:ReturnPath must be an address such as bounces@bounce.example.com, its local part letters, digits, '.', '_' or '-' (each email's id is added after a '+'); got '{returnPath}'.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static bool IsReturnPath(string value)
    {
        var at = value.LastIndexOf('@');
        return at > 0
            && System.Text.RegularExpressions.Regex.IsMatch(value[..at], @"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
            && IsHostName(value[(at + 1)..])
            && value[(at + 1)..].All(char.IsAscii)
            && value.Length <= 200;
    }

    private static bool IsHostName(string value)
    {
        try
        {
            var ascii = new IdnMapping().GetAscii(value);
            return Uri.CheckHostName(ascii) == UriHostNameType.Dns && ascii.Contains('.', StringComparison.Ordinal);
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
