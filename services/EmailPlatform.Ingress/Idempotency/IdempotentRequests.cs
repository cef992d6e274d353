using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EmailPlatform.Ingress.Storage;
using EmailPlatform.ServiceDefaults.Json;
using EmailPlatform.ServiceDefaults.Problems;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Ingress.Idempotency;

/// <summary>
/// <c>Idempotency-Key</c>, scoped per API key. A key seen before with the same request replays the original
/// answer (same ids, header <c>Idempotent-Replayed: true</c>) and accepts nothing new; with a different
/// request it is refused with 422. The record is committed in the same transaction as the accept, and the
/// primary key (API key, idempotency key) makes two concurrent requests race on one row: the loser's insert
/// waits for the winner's commit, fails, and then replays the winner's answer. So exactly one email is
/// accepted, on any number of replicas.
/// </summary>
internal sealed class IdempotentRequests(IngressDbContext db, TimeProvider clock, IOptions<IdempotencyOptions> options)
{
    public const string HeaderName = "Idempotency-Key";
    public const string ReplayedHeader = "Idempotent-Replayed";

    /// <summary>Reads and checks the header; a null key means the request does not ask for idempotency.</summary>
    public static (string? Key, ProblemHttpResult? Problem) ReadKey(HttpRequest request)
    {
        var values = request.Headers[HeaderName];
        if (values.Count == 0)
        {
            return (null, null);
        }

        var key = values.ToString();
        if (values.Count > 1 || key.Length is 0 or > IdempotencyRecord.MaxKeyLength || key.Any(c => c < 0x21 || c > 0x7e))
        {
            return (null, ApiProblems.Problem(StatusCodes.Status400BadRequest, "invalid_idempotency_key", "Invalid idempotency key.",
                $"The {HeaderName} header is 1 to {IdempotencyRecord.MaxKeyLength} printable ASCII characters, given once."));
        }

        return (key, null);
    }

    /// <summary>
    /// What makes two requests the same: the endpoint they reach (its route and route values, so <c>/v1/emails</c> and
    /// <c>/v1/emails/</c> are one), the <paramref name="mode"/> the endpoint reads from its headers as it takes effect
    /// (a batch's <c>strict</c>, whether sent or the default), and the body.
    /// </summary>
    public static byte[] HashRequest(HttpRequest request, string? mode, ReadOnlySpan<byte> body)
    {
        var route = (request.HttpContext.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? request.Path.Value?.TrimEnd('/');
        var values = string.Join(' ', request.RouteValues.OrderBy(v => v.Key, StringComparer.Ordinal).Select(v => $"{v.Key}={v.Value}"));
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"2 {request.Method} {route} {values} {mode}\n"));
        hash.AppendData(body);
        return hash.GetHashAndReset();
    }

    /// <summary>
    /// The hash of versions before <see cref="HashRequest"/> (raw path and header), still compared so that a retry
    /// across an upgrade matches the record its first attempt left. Remove once <see cref="IdempotencyOptions.Retention"/>
    /// has passed since every replica runs this version.
    /// </summary>
    public static byte[] LegacyHashRequest(HttpRequest request, ReadOnlySpan<byte> body)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"{request.Method} {request.Path} {request.Headers["x-batch-validation"]}\n"));
        hash.AppendData(body);
        return hash.GetHashAndReset();
    }

    /// <summary>The earlier answer for this key, if there is one that has not expired.</summary>
    public async Task<Previous?> FindAsync(string apiKeyId, string key, byte[] requestHash, byte[] legacyHash, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var record = await db.IdempotencyRecords.AsNoTracking()
            .SingleOrDefaultAsync(r => r.ApiKeyId == apiKeyId && r.Key == key && r.ExpiresAt > now, cancellationToken);
        return record is null ? null
            : new Previous(record.RequestHash.AsSpan().SequenceEqual(requestHash) || record.RequestHash.AsSpan().SequenceEqual(legacyHash), record.ResponseBody);
    }

    /// <summary>Adds the answer to the unit of work the caller is about to commit.</summary>
    public void Remember<T>(string apiKeyId, string key, byte[] requestHash, int statusCode, T response)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        db.IdempotencyRecords.Add(new IdempotencyRecord
        {
            ApiKeyId = apiKeyId,
            Key = key,
            RequestHash = requestHash,
            StatusCode = statusCode,
            ResponseBody = JsonSerializer.Serialize(response, WireJson.Options),
            CreatedAt = now,
            ExpiresAt = now + options.Value.Retention,
        });
    }

    /// <summary>An expired record under the same key would block the insert: remove it first.</summary>
    public Task<int> ForgetExpiredAsync(string apiKeyId, string key, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        return db.IdempotencyRecords.Where(r => r.ApiKeyId == apiKeyId && r.Key == key && r.ExpiresAt <= now)
            .ExecuteDeleteAsync(cancellationToken);
    }

    public static ProblemHttpResult Mismatch() => ApiProblems.Problem(StatusCodes.Status422UnprocessableEntity,
        "invalid_idempotent_request", "Idempotency key reused.",
        $"This {HeaderName} was already used with a different request. Use a new key for a new request.");

    public static T Replay<T>(HttpContext context, Previous previous)
    {
        context.Response.Headers[ReplayedHeader] = "true";
        return JsonSerializer.Deserialize<T>(previous.ResponseBody, WireJson.Options)!;
    }

    public sealed record Previous(bool SameRequest, string ResponseBody);
}
