using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using EmailPlatform.Resilience.Tests.Support;
using EmailPlatform.Testing;
using Npgsql;
using Xunit.Abstractions;

namespace EmailPlatform.Resilience.Tests.Hostile;

/// <summary>
/// Generated hostile requests (a fixed seed, so a failure replays) against the running ingress on real PostgreSQL
/// and RabbitMQ, with a worker and the status service behind it delivering to a scripted relay. Every answer must be
/// a 4xx problem detail, and nothing may be stored, enqueued or sent.
/// </summary>
[Trait("Category", "Hostile")]
public sealed class HostileInputTests(ITestOutputHelper output)
{
    private const int Seed = 20261128;
    private const int MaxBodyBytes = 256 * 1024;

    [Fact]
    public async Task EveryHostileRequestIsRefusedWithAProblemDetailAndNothingIsStoredEnqueuedOrSent()
    {
        var requests = new HostileRequests(Seed, MaxBodyBytes).Generate(FaultScale.HostileRequests);
        await using var relay = await ScriptedSmtpServer.StartAsync();
        await using var stack = await PlatformStack.CreateAsync(new PlatformStackOptions
        {
            RelayHost = "127.0.0.1",
            RelayPort = relay.Port,
            MaxPoolSize = 5,
            Environment = new Dictionary<string, string?>(FaultRun.FastRecovery)
            {
                // A smaller body limit than the 40 MB default keeps the oversize requests cheap; the check is the same.
                ["Ingress__MaxRequestBodyBytes"] = MaxBodyBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
            },
        });
        await stack.StartAllAsync(workers: 1);
        using var admin = stack.CreateClient();
        var keys = await KeysAsync(stack, admin);

        var failures = new ConcurrentQueue<string>();
        var byStatus = new ConcurrentDictionary<int, int>();
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = stack.IngressUrl, Timeout = TimeSpan.FromSeconds(60) };
        await Parallel.ForEachAsync(requests, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (request, _) =>
        {
            var failure = await SendAndCheckAsync(client, keys, request, byStatus);
            if (failure is not null)
            {
                failures.Enqueue(failure);
            }
        });

        output.WriteLine($"{requests.Count} hostile requests (seed {Seed}); answers: " +
            string.Join(", ", byStatus.OrderBy(s => s.Key).Select(s => $"{s.Key}×{s.Value}")));
        Assert.True(failures.IsEmpty, $"{failures.Count} of {requests.Count} requests were not refused with a 4xx problem detail:" +
            Environment.NewLine + string.Join(Environment.NewLine, failures.Take(25)));

        // Nothing half-done: no email, outbox message or idempotency record stored, nothing sent. The outbox is the
        // only way onto the bus, so an empty outbox is nothing enqueued.
        Assert.Equal(0, await CountAsync(stack, "outbox_messages"));
        Assert.Equal(0, await CountAsync(stack, "emails"));
        Assert.Equal(0, await CountAsync(stack, "deliveries"));
        Assert.Empty(relay.Received);

        // The control: one valid email through the same stack is stored and arrives, so the counts above can see it.
        using var valid = await admin.PostAsJsonAsync("/v1/emails", HostileRequests.ValidEmail());
        Assert.Equal(HttpStatusCode.Accepted, valid.StatusCode);
        await Eventually.GetAsync(() => Task.FromResult(relay.Received.Count), n => n == 1, TimeSpan.FromSeconds(90), "the valid email at the relay");
        await Eventually.GetAsync(() => CountAsync(stack, "emails"), n => n == 1, TimeSpan.FromSeconds(60), "the valid email in the status store");
    }

    [Fact]
    public async Task PriorityOtherThanHighNormalOrBulkIsRefused()
    {
        await using var relay = await ScriptedSmtpServer.StartAsync();
        await using var stack = await PlatformStack.CreateAsync(new PlatformStackOptions { RelayHost = "127.0.0.1", RelayPort = relay.Port, MaxPoolSize = 5 });
        await stack.StartIngressAsync();
        using var client = stack.CreateClient();
        var accepted = new List<string>();
        foreach (var (kind, body) in HostileRequests.LenientPriorities())
        {
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var response = await client.PostAsync("/v1/emails", content);
            if (ProblemError((int)response.StatusCode, response.Content.Headers.ContentType, await response.Content.ReadAsStringAsync()) is { } error)
            {
                accepted.Add($"{kind}: {error}");
            }
        }

        Assert.True(accepted.Count == 0, string.Join(Environment.NewLine, accepted));
    }

    private static async Task<string?> SendAndCheckAsync(HttpClient client, IReadOnlyDictionary<Auth, string?> keys, HostileRequest request, ConcurrentDictionary<int, int> byStatus)
    {
        using var message = new HttpRequestMessage(HttpMethod.Post, request.Path);
        var oversize = request.Chunked || request.Body.Length > MaxBodyBytes;
        if (oversize)
        {
            // Refused before its body is read, the connection is closed: keep it from being reused for the next request.
            message.Headers.ConnectionClose = true;
        }

        HttpContent content = request.Chunked ? new StreamContent(new MemoryStream(request.Body)) : new ByteArrayContent(request.Body);
        if (request.ContentType is not null)
        {
            content.Headers.TryAddWithoutValidation("Content-Type", request.ContentType);
        }

        if (request.Chunked)
        {
            message.Headers.TransferEncodingChunked = true;
        }

        message.Content = content;
        if (keys[request.Auth] is { } authorization)
        {
            message.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        try
        {
            using var response = await client.SendAsync(message);
            var status = (int)response.StatusCode;
            byStatus.AddOrUpdate(status, 1, (_, n) => n + 1);
            var body = await response.Content.ReadAsStringAsync();
            return ProblemError(status, response.Content.Headers.ContentType, body) is { } error ? $"{error} ← {request}" : null;
        }
        catch (HttpRequestException ex)
        {
            // A server may answer 413 and close before the client has written the whole oversize body; the client then
            // sees the reset instead of the answer. That is a refusal, and nothing can have been stored. Any other
            // request must get an answer.
            byStatus.AddOrUpdate(0, 1, (_, n) => n + 1);
            return oversize && ex.InnerException is IOException ? null : $"no answer ({ex.InnerException?.Message ?? ex.Message}) ← {request}";
        }
    }

    /// <summary>Why an answer is not a 4xx RFC 9457 problem detail with the members clients read; null when it is.</summary>
    private static string? ProblemError(int status, MediaTypeHeaderValue? type, string body)
    {
        if (status is < 400 or > 499)
        {
            return $"status {status}: {Snippet(body)}";
        }

        if (type?.MediaType != "application/problem+json")
        {
            return $"{status} with content type {type?.MediaType ?? "(none)"}: {Snippet(body)}";
        }

        try
        {
            using var json = JsonDocument.Parse(body);
            var root = json.RootElement;
            var ok = root.TryGetProperty("type", out var t) && t.GetString()?.StartsWith(ProblemAssert.TypeBase, StringComparison.Ordinal) == true
                && root.TryGetProperty("title", out var title) && !string.IsNullOrWhiteSpace(title.GetString())
                && root.TryGetProperty("status", out var s) && s.GetInt32() == status
                && root.TryGetProperty("statusCode", out var sc) && sc.GetInt32() == status
                && root.TryGetProperty("name", out var name) && !string.IsNullOrWhiteSpace(name.GetString())
                && root.TryGetProperty("message", out var m) && !string.IsNullOrWhiteSpace(m.GetString());
            return ok ? null : $"{status} problem lacks type/title/status/name/message/statusCode: {Snippet(body)}";
        }
        catch (JsonException)
        {
            return $"{status} body is not JSON: {Snippet(body)}";
        }
    }

    /// <summary>The Authorization header for each kind of credential, including a revoked key and a read-only one.</summary>
    private static async Task<Dictionary<Auth, string?>> KeysAsync(PlatformStack stack, HttpClient admin)
    {
        async Task<(string Id, string Token)> CreateAsync(string name, string[] scopes)
        {
            using var response = await admin.PostAsJsonAsync("/v1/api-keys", new { name, scopes });
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
            var key = await response.Content.ReadFromJsonAsync<JsonObject>();
            return (key!["id"]!.GetValue<string>(), key["token"]!.GetValue<string>());
        }

        var revoked = await CreateAsync("revoked", ["send"]);
        var readOnly = await CreateAsync("read-only", ["read"]);
        using (var revoke = await admin.DeleteAsync($"/v1/api-keys/{revoked.Id}"))
        {
            Assert.True(revoke.IsSuccessStatusCode, await revoke.Content.ReadAsStringAsync());
        }

        // A revoked key is refused by every replica within the key cache's lifetime (5 s): wait for that before using it.
        using var probe = stack.CreateClient(revoked.Token);
        await Eventually.GetAsync(async () =>
        {
            using var response = await probe.GetAsync("/v1/emails?limit=1");
            return response.StatusCode;
        }, s => s == HttpStatusCode.Unauthorized, TimeSpan.FromSeconds(30), "the revoked key to be refused");

        return new Dictionary<Auth, string?>
        {
            [Auth.Valid] = "Bearer " + stack.ApiKey,
            [Auth.None] = null,
            [Auth.Empty] = "Bearer ",
            [Auth.Basic] = "Basic " + Convert.ToBase64String("user:password"u8.ToArray()),
            [Auth.Unknown] = "Bearer ep_live_" + Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
            [Auth.WrongPrefix] = "Bearer re_" + stack.ApiKey,
            [Auth.Revoked] = "Bearer " + revoked.Token,
            [Auth.ReadOnly] = "Bearer " + readOnly.Token,
            [Auth.Truncated] = "Bearer " + stack.ApiKey[..^1],
        };
    }

    private static async Task<long> CountAsync(PlatformStack stack, string table)
    {
        await using var connection = new NpgsqlConnection(stack.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"SELECT count(*) FROM {table}", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static string Snippet(string body) => body.Length > 300 ? body[..300] + "…" : body;
}
