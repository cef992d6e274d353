using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using EmailPlatform.Ingress.Tests.Support;
using EmailPlatform.Testing;
using static EmailPlatform.Ingress.Tests.Templates.TemplateEndpointTests;

namespace EmailPlatform.Ingress.Tests.Templates;

/// <summary>
/// Liquid filters that fail on the sender's variables (a <c>base64_decode</c> of something that is not base64, a
/// <c>round</c> to more digits than a decimal has) are that send's 422, never a 500 or a failed batch.
/// </summary>
public sealed class TemplateRenderFailureTests
{
    private static JsonObject Filters() => new()
    {
        ["name"] = "Filters",
        ["alias"] = "filters",
        ["subject"] = "Your code",
        ["html"] = "<p>{{ token | base64_decode }}</p><p>{{ price | round: digits }}</p>",
        ["variables"] = new JsonArray(
            new JsonObject { ["name"] = "token", ["type"] = "string", ["required"] = true },
            new JsonObject { ["name"] = "price", ["type"] = "number", ["required"] = true },
            new JsonObject { ["name"] = "digits", ["type"] = "number", ["required"] = true }),
    };

    private static JsonObject Good() => new() { ["token"] = "aGVsbG8=", ["price"] = 9.456, ["digits"] = 2 };

    private static JsonObject NotBase64() => new() { ["token"] = "not base64!", ["price"] = 9.456, ["digits"] = 2 };

    private static JsonObject TooManyDigits() => new() { ["token"] = "aGVsbG8=", ["price"] = 9.456, ["digits"] = 40 };

    [Fact]
    public async Task FilterThatFailsOnTheVariablesIsA422ForASendARenderAndATestSend()
    {
        await using var app = await IngressApp.StartAsync();
        await CreatePublishedAsync(app, Filters());
        using var client = app.CreateClient();

        using var notBase64 = await app.PostEmailAsync(Templated("filters", NotBase64()).ToJsonString());
        using var tooManyDigits = await app.PostEmailAsync(Templated("filters", TooManyDigits()).ToJsonString());
        using var render = await IngressApp.PostJsonAsync(client, "/v1/templates/filters/render",
            new JsonObject { ["variables"] = NotBase64() }.ToJsonString());
        using var test = await IngressApp.PostJsonAsync(client, "/v1/templates/filters/test",
            new JsonObject { ["to"] = "tester@example.test", ["from"] = "hello@acme.test", ["variables"] = TooManyDigits() }.ToJsonString());

        foreach (var response in new[] { notBase64, tooManyDigits, render, test })
        {
            var problem = await ProblemAssert.IsDetailedProblemAsync(response, HttpStatusCode.UnprocessableEntity, "invalid_template_variables");
            Assert.True(problem.GetProperty("errors").TryGetProperty("template", out _), problem.ToString());
        }

        Assert.Equal(0, await app.CountOutboxAsync());
        var good = await SendTemplatedAsync(app, "filters", Good());
        Assert.Equal("<p>hello</p><p>9.46</p>", good.Html);
    }

    [Fact]
    public async Task PermissiveBatchListsTheEmailsWhoseFiltersFailAndAcceptsTheOthers()
    {
        await using var app = await IngressApp.StartAsync();
        await CreatePublishedAsync(app, Filters());
        using var client = app.CreateClient();
        var body = new JsonArray(Templated("filters", NotBase64()), Templated("filters", Good()), Templated("filters", TooManyDigits()));

        using var response = await IngressApp.PostJsonAsync(client, "/v1/emails/batch", body.ToJsonString(), ("x-batch-validation", "permissive"));

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {text}");
        var json = JsonDocument.Parse(text).RootElement;
        var id = Assert.Single(json.GetProperty("data").EnumerateArray()).GetProperty("id").GetGuid();
        Assert.Equal("<p>hello</p><p>9.46</p>", (await app.FindOutboxRowAsync(id))!.Command.Html);
        Assert.Equal([0, 2], json.GetProperty("errors").EnumerateArray().Select(e => e.GetProperty("index").GetInt32()));
        Assert.Equal(1, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task StrictBatchWithAFailingFilterStoresNothingAndKeysTheErrorByIndex()
    {
        await using var app = await IngressApp.StartAsync();
        await CreatePublishedAsync(app, Filters());
        using var client = app.CreateClient();
        var body = new JsonArray(Templated("filters", Good()), Templated("filters", TooManyDigits()));

        using var response = await IngressApp.PostJsonAsync(client, "/v1/emails/batch", body.ToJsonString());

        var problem = await ProblemAssert.IsValidationProblemAsync(response, "validation_error", "[1].template");
        Assert.Equal(["[1].template"], problem.GetProperty("errors").EnumerateObject().Select(e => e.Name));
        Assert.Equal(0, await app.CountOutboxAsync());
    }
}
