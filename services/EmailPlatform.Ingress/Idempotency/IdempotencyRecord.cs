namespace EmailPlatform.Ingress.Idempotency;

/// <summary>
/// The answer given to a request that carried an <c>Idempotency-Key</c>, kept per API key until
/// <see cref="ExpiresAt"/>. It is written in the same transaction as the emails it accepted, so a replay
/// answers exactly what was committed.
/// </summary>
public sealed class IdempotencyRecord
{
    public const int MaxKeyLength = 256;

    public required string ApiKeyId { get; set; }

    public required string Key { get; set; }

    /// <summary>SHA-256 of the method, path and body: the same key with another request is refused.</summary>
    public required byte[] RequestHash { get; set; }

    public int StatusCode { get; set; }

    public required string ResponseBody { get; set; }

    public DateTime CreatedAt { get; set; }

    public DateTime ExpiresAt { get; set; }
}
