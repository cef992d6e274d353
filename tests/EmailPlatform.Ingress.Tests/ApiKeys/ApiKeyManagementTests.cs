using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EmailPlatform.Ingress.ApiKeys;
using EmailPlatform.Ingress.Tests.Support;
using EmailPlatform.Testing;
using Npgsql;

namespace EmailPlatform.Ingress.Tests.ApiKeys;

/// <summary><c>/v1/api-keys</c>: create (token shown once, stored as a hash), list (newest first, in pages), revoke; scopes and sender domains.</summary>
public sealed class ApiKeyManagementTests
{
    [Fact]
    public async Task CreatedKeyIsShownOnceAndOnlyItsHashIsStored()
    {
        await using var app = await IngressApp.StartAsync();
        using var admin = app.CreateClient();

        using var created = await admin.PostAsJsonAsync("/v1/api-keys", new { name = "orders", scopes = new[] { "send" } });

        var text = await created.Content.ReadAsStringAsync();
        Assert.True(created.StatusCode == HttpStatusCode.Created, text);
        using var json = JsonDocument.Parse(text);
        var token = json.RootElement.GetProperty("token").GetString()!;
        var id = json.RootElement.GetProperty("id").GetGuid();
        Assert.StartsWith("ep_live_", token, StringComparison.Ordinal);
        Assert.True(token.Length > 40, token);
        Assert.Equal(["send"], json.RootElement.GetProperty("scopes").EnumerateArray().Select(s => s.GetString()));
        Assert.StartsWith(json.RootElement.GetProperty("prefix").GetString()!, token, StringComparison.Ordinal);
        Assert.Equal($"/v1/api-keys/{id}", created.Headers.Location?.OriginalString);

        using var list = await admin.GetAsync(new Uri("/v1/api-keys", UriKind.Relative));
        var listed = await list.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        Assert.DoesNotContain(token, listed, StringComparison.Ordinal);
        Assert.DoesNotContain(token["ep_live_".Length..], listed, StringComparison.Ordinal);
        using var listJson = JsonDocument.Parse(listed);
        var entry = Assert.Single(listJson.RootElement.GetProperty("data").EnumerateArray());
        Assert.Equal(id, entry.GetProperty("id").GetGuid());
        Assert.False(entry.TryGetProperty("token", out _));
        Assert.False(entry.TryGetProperty("hash", out _));

        // No column of any row holds the token: only the SHA-256 of it.
        await using var connection = new NpgsqlConnection(app.Database.ConnectionString);
        await connection.OpenAsync();
        await using var dump = new NpgsqlCommand("SELECT row_to_json(k)::text, encode(hash, 'hex') FROM api_keys k", connection);
        await using var reader = await dump.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.DoesNotContain(token["ep_live_".Length..], reader.GetString(0), StringComparison.Ordinal);
        Assert.Equal(Convert.ToHexStringLower(ApiKeyTokens.Hash(token)), reader.GetString(1));
        Assert.False(await reader.ReadAsync());
    }

    [Fact]
    public async Task SendOnlyKeyCanSendButCannotManageKeys()
    {
        await using var app = await IngressApp.StartAsync();
        var (token, _) = await app.CreateApiKeyAsync(new { name = "sender", scopes = new[] { "send" } });
        using var client = app.CreateClient(token);

        using var sent = await IngressApp.PostJsonAsync(client, "/v1/emails", SendBodies.Json().ToJsonString());
        using var listed = await client.GetAsync(new Uri("/v1/api-keys", UriKind.Relative));
        using var created = await client.PostAsJsonAsync("/v1/api-keys", new { name = "escalate", scopes = new[] { "admin" } });

        Assert.Equal(HttpStatusCode.Accepted, sent.StatusCode);
        await ProblemAssert.IsDetailedProblemAsync(listed, HttpStatusCode.Forbidden, "restricted_api_key");
        await ProblemAssert.IsDetailedProblemAsync(created, HttpStatusCode.Forbidden, "restricted_api_key");
    }

    [Fact]
    public async Task ReadOnlyKeyCannotSend()
    {
        await using var app = await IngressApp.StartAsync();
        var (token, _) = await app.CreateApiKeyAsync(new { name = "reader", scopes = new[] { "read" } });
        using var client = app.CreateClient(token);

        using var sent = await IngressApp.PostJsonAsync(client, "/v1/emails", SendBodies.Json().ToJsonString());

        await ProblemAssert.IsDetailedProblemAsync(sent, HttpStatusCode.Forbidden, "restricted_api_key");
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    [Theory]
    [InlineData("Acme <billing@acme.test>", HttpStatusCode.Accepted)]
    [InlineData("billing@mail.acme.test", HttpStatusCode.Accepted)]
    [InlineData("billing@ACME.test", HttpStatusCode.Accepted)]
    [InlineData("billing@evil.test", HttpStatusCode.Forbidden)]
    [InlineData("billing@notacme.test", HttpStatusCode.Forbidden)]
    [InlineData("billing@acme.test.evil.test", HttpStatusCode.Forbidden)]
    public async Task KeyRestrictedToSenderDomainsOnlySendsFromThemAndTheirSubdomains(string from, HttpStatusCode expected)
    {
        await using var app = await IngressApp.StartAsync();
        var (token, _) = await app.CreateApiKeyAsync(new { name = "acme", scopes = new[] { "send" }, allowed_sender_domains = new[] { "acme.test" } });
        using var client = app.CreateClient(token);

        using var response = await IngressApp.PostJsonAsync(client, "/v1/emails", SendBodies.Json(b => b["from"] = from).ToJsonString());

        if (expected == HttpStatusCode.Forbidden)
        {
            await ProblemAssert.IsDetailedProblemAsync(response, HttpStatusCode.Forbidden, "restricted_api_key");
            Assert.Equal(0, await app.CountOutboxAsync());
        }
        else
        {
            Assert.True(response.StatusCode == expected, await response.Content.ReadAsStringAsync());
            Assert.Equal(1, await app.CountOutboxAsync());
        }
    }

    [Theory]
    [InlineData("Resent-From")]
    [InlineData("Resent-Sender")]
    public async Task KeyRestrictedToSenderDomainsCannotNameAnotherSenderInAResentHeader(string header)
    {
        // The raw endpoint checks these headers' addresses against the key's domains; a JSON send refuses them whole.
        await using var app = await IngressApp.StartAsync();
        var (token, _) = await app.CreateApiKeyAsync(new { name = "acme", scopes = new[] { "send" }, allowed_sender_domains = new[] { "acme.test" } });
        using var client = app.CreateClient(token);

        using var response = await IngressApp.PostJsonAsync(client, "/v1/emails", SendBodies.Json(b =>
        {
            b["from"] = "billing@acme.test";
            b["headers"] = new System.Text.Json.Nodes.JsonObject { [header] = "ceo@bank.test" };
        }).ToJsonString());

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "validation_error");
        Assert.True(problem.GetProperty("errors").TryGetProperty($"headers.{header}", out _), problem.ToString());
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task RevokedKeyIsRefusedWithinTheResolverCacheTime()
    {
        await using var app = await IngressApp.StartAsync();
        var (token, id) = await app.CreateApiKeyAsync(new { name = "short-lived" });
        using var client = app.CreateClient(token);
        using (var before = await IngressApp.PostJsonAsync(client, "/v1/emails", SendBodies.Json().ToJsonString()))
        {
            Assert.Equal(HttpStatusCode.Accepted, before.StatusCode);
        }

        using var admin = app.CreateClient();
        using var revoked = await admin.DeleteAsync(new Uri($"/v1/api-keys/{id}", UriKind.Relative));
        var revokedBody = await revoked.Content.ReadAsStringAsync();
        Assert.True(revoked.StatusCode == HttpStatusCode.OK, revokedBody);
        Assert.NotEqual(JsonValueKind.Null, JsonDocument.Parse(revokedBody).RootElement.GetProperty("revoked_at").ValueKind);

        var status = await Eventually.GetAsync(
            async () =>
            {
                using var response = await IngressApp.PostJsonAsync(client, "/v1/emails", SendBodies.Json().ToJsonString());
                return response.StatusCode;
            },
            s => s == HttpStatusCode.Unauthorized,
            ApiKeyResolver.CacheDuration + TimeSpan.FromSeconds(3),
            "the revoked key to be refused");
        Assert.Equal(HttpStatusCode.Unauthorized, status);

        using var after = await IngressApp.PostJsonAsync(client, "/v1/emails", SendBodies.Json().ToJsonString());
        await ProblemAssert.IsDetailedProblemAsync(after, HttpStatusCode.Unauthorized, "invalid_api_key");
    }

    [Fact]
    public async Task KeysAreListedNewestFirstInPagesRevokedOnesIncluded()
    {
        await using var app = await IngressApp.StartAsync();
        using var admin = app.CreateClient();
        var ids = new List<Guid>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add((await app.CreateApiKeyAsync(new { name = $"service-{i}" })).Id);
        }

        using (var revoked = await admin.DeleteAsync(new Uri($"/v1/api-keys/{ids[2]}", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.OK, revoked.StatusCode);
        }

        ids.Reverse();
        await NewestFirstPages.AssertAsync(admin, "/v1/api-keys", ids, notListed: Guid.CreateVersion7());
    }

    [Fact]
    public async Task RevokingAnUnknownKeyReturnsNotFound()
    {
        await using var app = await IngressApp.StartAsync();
        using var admin = app.CreateClient();

        using var response = await admin.DeleteAsync(new Uri($"/v1/api-keys/{Guid.NewGuid()}", UriKind.Relative));

        await ProblemAssert.IsDetailedProblemAsync(response, HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task UnknownKeyWithTheRightPrefixIsRefused()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient("ep_live_" + new string('A', 43));

        using var response = await IngressApp.PostJsonAsync(client, "/v1/emails", SendBodies.Json().ToJsonString());

        await ProblemAssert.IsDetailedProblemAsync(response, HttpStatusCode.Unauthorized, "invalid_api_key");
    }

    [Theory]
    [InlineData("""{"scopes":["send"]}""", "name")]
    [InlineData("""{"name":"  "}""", "name")]
    [InlineData("""{"name":"x","scopes":[]}""", "scopes")]
    [InlineData("""{"name":"x","scopes":["superuser"]}""", "scopes")]
    [InlineData("""{"name":"x","allowed_sender_domains":["not a domain"]}""", "allowed_sender_domains")]
    [InlineData("""{"name":"x","allowed_sender_domains":[null]}""", "allowed_sender_domains")]
    [InlineData("""{"name":"x","allowed_sender_domains":["localhost"]}""", "allowed_sender_domains")]
    [InlineData("""{"name":"x","rate_limit_per_second":0}""", "rate_limit_per_second")]
    [InlineData("""{"name":"x","rate_limit_per_second":-5}""", "rate_limit_per_second")]
    // Below the configuration's minimum (0.01): a rate of 1e-13 overflowed the rate limiter's arithmetic, a 500 on every request.
    [InlineData("""{"name":"x","rate_limit_per_second":1e-13}""", "rate_limit_per_second")]
    [InlineData("""{"name":"x","rate_limit_per_second":0.009}""", "rate_limit_per_second")]
    public async Task InvalidCreateBodyIsRefusedAndNothingIsStored(string body, string field)
    {
        await using var app = await IngressApp.StartAsync();
        using var admin = app.CreateClient();

        using var response = await IngressApp.PostJsonAsync(admin, "/v1/api-keys", body);

        await ProblemAssert.IsValidationProblemAsync(response, "validation_error", field);
        Assert.Equal(0, await app.Database.CountAsync("api_keys"));
    }

    [Fact]
    public async Task KeyWithoutScopesGetsSendAndRead()
    {
        await using var app = await IngressApp.StartAsync();
        using var admin = app.CreateClient();

        using var response = await admin.PostAsJsonAsync("/v1/api-keys", new { name = "default" });

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(["send", "read"], json.RootElement.GetProperty("scopes").EnumerateArray().Select(s => s.GetString()));
    }
}
