namespace EmailPlatform.ServiceDefaults.Authentication;

/// <summary>
/// What an API key may do. Each is also the name of the authorization policy that requires it; <c>admin</c>
/// implies the others.
/// </summary>
public static class ApiKeyScopes
{
    public const string Send = "send";
    public const string Read = "read";
    public const string Admin = "admin";

    public static readonly IReadOnlyList<string> All = [Send, Read, Admin];

    public static bool IsKnown(string scope) => All.Contains(scope, StringComparer.Ordinal);
}
