namespace EmailPlatform.ServiceDefaults.Authentication;

/// <summary>
/// Resolves a presented key that is not the bootstrap key (a service registers one when it keeps API keys;
/// without one, only the bootstrap key is accepted).
/// </summary>
public interface IApiKeyResolver
{
    /// <returns>The key's identity, or null when the key is unknown or revoked.</returns>
    ValueTask<ApiKeyIdentity?> ResolveAsync(string presentedKey, CancellationToken cancellationToken);
}
