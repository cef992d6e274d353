using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using EmailPlatform.Ingress.Tests.Support;
using EmailPlatform.Testing;
using MimeKit;

namespace EmailPlatform.Ingress.Tests.Idempotency;

/// <summary><c>Idempotency-Key</c>: replays, mismatches, per-key scope, concurrency, expiry, batch and raw.</summary>
public sealed class IdempotencyKeyTests
{
    [Fact]
    public async Task SameKeyAndSameBodyReplaysTheFirstAnswerWithoutASecondEmail()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();
        var body = SendBodies.Json().ToJsonString();

        using var first = await IngressApp.PostJsonAsync(client, "/v1/emails", body, ("Idempotency-Key", "order-42"));
        using var second = await IngressApp.PostJsonAsync(client, "/v1/emails", body, ("Idempotency-Key", "order-42"));

        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, second.StatusCode);
        Assert.False(first.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal("true", Assert.Single(second.Headers.GetValues("Idempotent-Replayed")));
        Assert.Equal(await IdAsync(first), await IdAsync(second));
        Assert.Equal(1, await app.CountOutboxAsync());
    }

    /// <summary>
    /// A retry is the same request when it reaches the same endpoint in the same mode, however it spells them: a batch
    /// first sent without <c>x-batch-validation</c> and retried with <c>strict</c> (the default), a send retried with a
    /// trailing slash. Another mode is another request.
    /// </summary>
    [Fact]
    public async Task ARetrySpellingTheSameEndpointOrTheDefaultModeDifferentlyIsReplayed()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();
        var batch = new JsonArray(SendBodies.Json()).ToJsonString();
        var send = SendBodies.Json().ToJsonString();

        using var first = await IngressApp.PostJsonAsync(client, "/v1/emails/batch", batch, ("Idempotency-Key", "batch-default"));
        using var strict = await IngressApp.PostJsonAsync(client, "/v1/emails/batch", batch, ("Idempotency-Key", "batch-default"), ("x-batch-validation", "strict"));
        using var permissive = await IngressApp.PostJsonAsync(client, "/v1/emails/batch", batch, ("Idempotency-Key", "batch-default"), ("x-batch-validation", "permissive"));
        using var single = await IngressApp.PostJsonAsync(client, "/v1/emails", send, ("Idempotency-Key", "send-1"));
        using var slashed = await IngressApp.PostJsonAsync(client, "/v1/emails/", send, ("Idempotency-Key", "send-1"));

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, strict.StatusCode);
        Assert.Equal("true", Assert.Single(strict.Headers.GetValues("Idempotent-Replayed")));
        Assert.Equal(await first.Content.ReadAsStringAsync(), await strict.Content.ReadAsStringAsync());
        await ProblemAssert.IsDetailedProblemAsync(permissive, HttpStatusCode.UnprocessableEntity, "invalid_idempotent_request");
        Assert.Equal(HttpStatusCode.Accepted, slashed.StatusCode);
        Assert.Equal("true", Assert.Single(slashed.Headers.GetValues("Idempotent-Replayed")));
        Assert.Equal(await IdAsync(single), await IdAsync(slashed));
        Assert.Equal(2, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task SameKeyWithAnotherBodyIsRefusedWith422()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();

        using var first = await IngressApp.PostJsonAsync(client, "/v1/emails", SendBodies.Json().ToJsonString(), ("Idempotency-Key", "k1"));
        using var second = await IngressApp.PostJsonAsync(
            client, "/v1/emails", SendBodies.Json(b => b["subject"] = "Another").ToJsonString(), ("Idempotency-Key", "k1"));

        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        await ProblemAssert.IsDetailedProblemAsync(second, HttpStatusCode.UnprocessableEntity, "invalid_idempotent_request");
        Assert.Equal(1, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task DifferentApiKeysUseTheSameIdempotencyKeyIndependently()
    {
        await using var app = await IngressApp.StartAsync();
        var (token, _) = await app.CreateApiKeyAsync(new { name = "other" });
        using var bootstrap = app.CreateClient();
        using var other = app.CreateClient(token);
        var body = SendBodies.Json().ToJsonString();

        using var first = await IngressApp.PostJsonAsync(bootstrap, "/v1/emails", body, ("Idempotency-Key", "shared"));
        using var second = await IngressApp.PostJsonAsync(other, "/v1/emails", body, ("Idempotency-Key", "shared"));

        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, second.StatusCode);
        Assert.False(second.Headers.Contains("Idempotent-Replayed"));
        Assert.NotEqual(await IdAsync(first), await IdAsync(second));
        Assert.Equal(2, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task ConcurrentRequestsWithTheSameKeyAcceptExactlyOneEmail()
    {
        await using var app = await IngressApp.StartAsync();
        var body = SendBodies.Json().ToJsonString();
        var clients = Enumerable.Range(0, 10).Select(_ => app.CreateClient()).ToList();
        try
        {
            // Started together: each request runs on its own connection to the test server.
            var answers = await Task.WhenAll(clients.Select(async c =>
            {
                using var response = await IngressApp.PostJsonAsync(c, "/v1/emails", body, ("Idempotency-Key", "concurrent-1"));
                return (response.StatusCode, Body: await response.Content.ReadAsStringAsync());
            }));

            // The losers wait for the winner's commit and answer with its 202 (README: "the second waits for the first").
            Assert.All(answers, a => Assert.True(a.StatusCode == HttpStatusCode.Accepted, $"{(int)a.StatusCode}: {a.Body}"));
            var ids = answers.Select(a => JsonDocument.Parse(a.Body).RootElement.GetProperty("id").GetGuid()).Distinct().ToList();
            Assert.Single(ids);
            Assert.Equal(1, await app.CountOutboxAsync());
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }

    [Theory]
    [InlineData(257)]
    [InlineData(-1)]
    public async Task MalformedKeyIsRefused(int length)
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();
        var key = length > 0 ? new string('k', length) : "clé-non-ascii";

        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/v1/emails", UriKind.Relative))
        {
            Content = new StringContent(SendBodies.Json().ToJsonString(), System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.TryAddWithoutValidation("Idempotency-Key", key);
        using var response = await client.SendAsync(request);

        await ProblemAssert.IsDetailedProblemAsync(response, HttpStatusCode.BadRequest, "invalid_idempotency_key");
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task ExpiredKeyAcceptsANewEmail()
    {
        await using var app = await IngressApp.StartAsync(settings: new Dictionary<string, string?> { ["Ingress:Idempotency:Retention"] = "00:01:00" });
        using var client = app.CreateClient();
        var body = SendBodies.Json().ToJsonString();
        using var first = await IngressApp.PostJsonAsync(client, "/v1/emails", body, ("Idempotency-Key", "expiring"));
        var firstId = await IdAsync(first);

        var expiresIn = await ScalarAsync(app, "SELECT extract(epoch FROM expires_at - created_at)::int FROM idempotency_records");
        Assert.Equal(60, expiresIn);
        await app.ExecuteSqlAsync("UPDATE idempotency_records SET expires_at = now() - interval '1 second'");
        using var second = await IngressApp.PostJsonAsync(client, "/v1/emails", body, ("Idempotency-Key", "expiring"));

        Assert.Equal(HttpStatusCode.Accepted, second.StatusCode);
        Assert.False(second.Headers.Contains("Idempotent-Replayed"));
        Assert.NotEqual(firstId, await IdAsync(second));
        Assert.Equal(2, await app.CountOutboxAsync());
        Assert.Equal(1, await app.Database.CountAsync("idempotency_records"));
    }

    [Fact]
    public async Task BatchWithTheSameKeyIsReplayedAsAWhole()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();
        var body = new JsonArray(SendBodies.Json(), SendBodies.Json(b => b["to"] = "bob@example.test")).ToJsonString();

        using var first = await IngressApp.PostJsonAsync(client, "/v1/emails/batch", body, ("Idempotency-Key", "batch-1"));
        using var second = await IngressApp.PostJsonAsync(client, "/v1/emails/batch", body, ("Idempotency-Key", "batch-1"));
        using var changed = await IngressApp.PostJsonAsync(client, "/v1/emails/batch", new JsonArray(SendBodies.Json()).ToJsonString(), ("Idempotency-Key", "batch-1"));

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal("true", Assert.Single(second.Headers.GetValues("Idempotent-Replayed")));
        Assert.Equal(await first.Content.ReadAsStringAsync(), await second.Content.ReadAsStringAsync());
        await ProblemAssert.IsDetailedProblemAsync(changed, HttpStatusCode.UnprocessableEntity, "invalid_idempotent_request");
        Assert.Equal(2, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task RawSendWithTheSameKeyIsReplayed()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse("billing@acme.test"));
        message.To.Add(MailboxAddress.Parse("alice@example.test"));
        message.Subject = "Raw";
        message.Body = new TextPart("plain") { Text = "Hello." };
        using var stream = new MemoryStream();
        message.WriteTo(stream);
        var body = new JsonObject
        {
            ["raw"] = Convert.ToBase64String(stream.ToArray()),
            ["mail_from"] = "billing@acme.test",
            ["rcpt_to"] = new JsonArray("alice@example.test"),
        }.ToJsonString();

        using var first = await IngressApp.PostJsonAsync(client, "/v1/emails/raw", body, ("Idempotency-Key", "raw-1"));
        using var second = await IngressApp.PostJsonAsync(client, "/v1/emails/raw", body, ("Idempotency-Key", "raw-1"));

        Assert.True(first.StatusCode == HttpStatusCode.Accepted, await first.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.Accepted, second.StatusCode);
        Assert.Equal("true", Assert.Single(second.Headers.GetValues("Idempotent-Replayed")));
        Assert.Equal(await IdAsync(first), await IdAsync(second));
        Assert.Equal(1, await app.CountOutboxAsync());
    }

    private static async Task<Guid> IdAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"{(int)response.StatusCode}: {text}");
        using var json = JsonDocument.Parse(text);
        return json.RootElement.GetProperty("id").GetGuid();
    }

    private static async Task<int> ScalarAsync(IngressApp app, string sql)
    {
        await using var connection = new Npgsql.NpgsqlConnection(app.Database.ConnectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand(sql, connection);
        return Convert.ToInt32(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
