using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EmailPlatform.Status.Tests.Support;
using EmailPlatform.Status.Webhooks;
using EmailPlatform.Testing;
using static EmailPlatform.Status.Tests.Webhooks.WebhookTesting;

namespace EmailPlatform.Status.Tests.Webhooks;

/// <summary><c>/v1/webhooks</c> management over HTTP.</summary>
public sealed class WebhookSubscriptionTests
{
    [Fact]
    public async Task PrivateLoopbackOrLinkLocalTargetIsRefusedWhenNotAllowed()
    {
        await using var api = await StatusApi.StartAsync();
        using var client = api.CreateClient();
        string[] urls =
        [
            "http://127.0.0.1:8080/hooks", "http://localhost/hooks", "http://[::1]/hooks",
            "http://169.254.169.254/latest/meta-data", "https://10.1.2.3/hooks", "https://192.168.0.10/hooks",
            "http://[64:ff9b::a9fe:a9fe]/latest/meta-data",
        ];

        foreach (var url in urls)
        {
            using var response = await client.PostAsJsonAsync(new Uri("/v1/webhooks", UriKind.Relative), new { url, events = new[] { "email.delivered" } });
            await ProblemAssert.IsValidationProblemAsync(response, "validation_error", "url");
        }

        var (id, _) = await SubscribeAsync(client, new Uri("https://93.184.215.14/hooks"), "email.delivered");
        using var patch = await client.PatchAsJsonAsync(new Uri($"/v1/webhooks/{id}", UriKind.Relative), new { url = "http://127.0.0.1/hooks" });
        await ProblemAssert.IsValidationProblemAsync(patch, "validation_error", "url");
    }

    [Fact]
    public async Task InvalidSubscriptionIsAValidationProblem()
    {
        await using var api = await StatusApi.StartAsync();
        using var client = api.CreateClient();
        (string Url, string Type, string Field)[] cases =
        [
            ("ftp://example.com/hooks", "email.delivered", "url"),
            ("not a url", "email.delivered", "url"),
            ("https://93.184.215.14/hooks", "email.opened", "events"),
        ];

        foreach (var (url, type, field) in cases)
        {
            using var response = await client.PostAsJsonAsync(new Uri("/v1/webhooks", UriKind.Relative), new { url, events = new[] { type } });
            await ProblemAssert.IsValidationProblemAsync(response, "validation_error", field);
        }

        using var nullEvent = await client.PostAsJsonAsync(new Uri("/v1/webhooks", UriKind.Relative),
            new { url = "https://93.184.215.14/hooks", events = new[] { "email.delivered", null } });
        await ProblemAssert.IsValidationProblemAsync(nullEvent, "validation_error", "events");
    }

    [Fact]
    public async Task SubscriptionIsCreatedListedUpdatedAndDeletedAndItsSecretShownOnlyOnce()
    {
        await using var api = await StatusApi.StartAsync(FastRetries());
        using var client = api.CreateClient();
        var (id, secret) = await SubscribeAsync(client, new Uri("http://127.0.0.1:9/hooks"), "email.delivered", "email.bounced");
        Assert.StartsWith("whsec_", secret, StringComparison.Ordinal);

        var fetched = await GetJsonAsync(client, $"/v1/webhooks/{id}");
        Assert.Equal("webhook", fetched.GetProperty("object").GetString());
        Assert.False(fetched.TryGetProperty("secret", out _));
        Assert.True(fetched.GetProperty("enabled").GetBoolean());
        Assert.Equal(["email.delivered", "email.bounced"], fetched.GetProperty("events").EnumerateArray().Select(e => e.GetString()));

        var list = await GetJsonAsync(client, "/v1/webhooks");
        Assert.Equal("list", list.GetProperty("object").GetString());
        Assert.Equal(id, Assert.Single(list.GetProperty("data").EnumerateArray()).GetProperty("id").GetGuid());

        using (var patch = await client.PatchAsJsonAsync(new Uri($"/v1/webhooks/{id}", UriKind.Relative), new { events = new[] { "email.failed" } }))
        {
            Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        }

        Assert.Equal(["email.failed"], (await GetJsonAsync(client, $"/v1/webhooks/{id}")).GetProperty("events").EnumerateArray().Select(e => e.GetString()));

        using (var delete = await client.DeleteAsync(new Uri($"/v1/webhooks/{id}", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }

        using var gone = await client.GetAsync(new Uri($"/v1/webhooks/{id}", UriKind.Relative));
        await ProblemAssert.IsProblemAsync(gone, HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task SubscriptionsAreListedNewestFirstInPagesWithoutDeletedOnes()
    {
        await using var api = await StatusApi.StartAsync(FastRetries());
        using var client = api.CreateClient();
        var ids = new List<Guid>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add((await SubscribeAsync(client, new Uri($"http://127.0.0.1:9/hooks/{i}"), "email.delivered")).Id);
        }

        using (var delete = await client.DeleteAsync(new Uri($"/v1/webhooks/{ids[3]}", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }

        var deleted = ids[3];
        ids.RemoveAt(3);
        ids.Reverse();
        await NewestFirstPages.AssertAsync(client, "/v1/webhooks", ids, notListed: deleted);
    }

    [Fact]
    public async Task WebhooksRequireAnApiKey()
    {
        await using var api = await StatusApi.StartAsync();
        using var anonymous = api.Factory.CreateClient();

        using var response = await anonymous.GetAsync(new Uri("/v1/webhooks", UriKind.Relative));

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Unauthorized, "missing_api_key");
    }

    [Theory]
    [InlineData("127.0.0.1", true)]
    [InlineData("10.0.0.1", true)]
    [InlineData("172.16.0.1", true)]
    [InlineData("172.32.0.1", false)]
    [InlineData("192.168.1.1", true)]
    [InlineData("169.254.169.254", true)]
    [InlineData("100.64.0.1", true)]
    [InlineData("0.0.0.0", true)]
    [InlineData("::1", true)]
    [InlineData("fe80::1", true)]
    [InlineData("fd00::1", true)]
    [InlineData("::ffff:127.0.0.1", true)]
    [InlineData("::ffff:10.0.0.5", true)]
    [InlineData("::ffff:93.184.215.14", false)]
    [InlineData("::ffff:0:10.0.0.5", true)]
    [InlineData("::ffff:0:169.254.169.254", true)]
    [InlineData("::ffff:0:93.184.215.14", false)]
    [InlineData("64:ff9b::10.0.0.5", true)]
    [InlineData("64:ff9b::a9fe:a9fe", true)]
    [InlineData("64:ff9b::127.0.0.1", true)]
    [InlineData("64:ff9b::93.184.215.14", false)]
    [InlineData("64:ff9b:1::93.184.215.14", true)]
    [InlineData("64:ff9b:1:ffff::1", true)]
    [InlineData("2002:a00:5::1", true)]
    [InlineData("2002:a9fe:a9fe::", true)]
    [InlineData("2002:5db8:d70e::1", false)]
    [InlineData("::10.0.0.5", true)]
    [InlineData("::a9fe:a9fe", true)]
    [InlineData("::93.184.215.14", false)]
    [InlineData("::", true)]
    [InlineData("2001:0:4136:e378:8000:63bf:f5ff:fffe", true)]
    [InlineData("2001::1", true)]
    [InlineData("2001:4860:4860::8888", false)]
    [InlineData("93.184.215.14", false)]
    [InlineData("2606:2800:21f:cb07:6820:80da:af6b:8b2c", false)]
    public void AddressesArePrivateOrPublic(string address, bool isPrivate) =>
        Assert.Equal(isPrivate, WebhookTargets.IsPrivate(IPAddress.Parse(address)));
}
