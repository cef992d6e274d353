using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EmailPlatform.Testing;

namespace EmailPlatform.Standalone.Tests;

/// <summary>
/// The lists paged newest first (API keys, templates, webhooks) page the same on the standalone host's SQLite stores
/// as on PostgreSQL: keyset conditions on a time and a GUID, compared the way each store keeps them.
/// </summary>
public sealed class ListPagingTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("emailplatform-data-").FullName;
    private readonly string _apiKey = TestInfrastructure.NewApiKey();

    [Fact]
    public async Task ApiKeysTemplatesAndWebhooksAreListedNewestFirstInPages()
    {
        await using var host = StandaloneHost.Create(_root, _apiKey, ServiceProcess.FreeTcpPort());
        using var admin = StandaloneHost.Client(host, _apiKey);
        var keys = new List<Guid>();
        var templates = new List<Guid>();
        var webhooks = new List<Guid>();
        for (var i = 0; i < 4; i++)
        {
            keys.Add(await CreateAsync(admin, "/v1/api-keys", new { name = $"service-{i}" }));
            templates.Add(await CreateAsync(admin, "/v1/templates", new { name = $"Receipt {i}", alias = $"receipt-{i}", subject = "Receipt", html = "<p>Thanks</p>" }));
            webhooks.Add(await CreateAsync(admin, "/v1/webhooks", new { url = $"http://127.0.0.1:9/hooks/{i}", events = new[] { "email.delivered" } }));
        }

        keys.Reverse();
        templates.Reverse();
        webhooks.Reverse();
        await NewestFirstPages.AssertAsync(admin, "/v1/api-keys", keys, notListed: templates[0]);
        await NewestFirstPages.AssertAsync(admin, "/v1/templates", templates, notListed: webhooks[0]);
        await NewestFirstPages.AssertAsync(admin, "/v1/webhooks", webhooks, notListed: keys[0]);
    }

    private static async Task<Guid> CreateAsync(HttpClient client, string path, object body)
    {
        using var created = await client.PostAsJsonAsync(new Uri(path, UriKind.Relative), body);
        var text = await created.Content.ReadAsStringAsync();
        Assert.True(created.StatusCode == HttpStatusCode.Created, $"POST {path}: {(int)created.StatusCode} {text}");
        return Guid.Parse(JsonNode.Parse(text)!["id"]!.GetValue<string>());
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
