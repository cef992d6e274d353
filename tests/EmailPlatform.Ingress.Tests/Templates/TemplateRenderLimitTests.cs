using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using EmailPlatform.Ingress.Tests.Support;
using EmailPlatform.Testing;
using static EmailPlatform.Ingress.Tests.Templates.TemplateEndpointTests;

namespace EmailPlatform.Ingress.Tests.Templates;

/// <summary>
/// What a template renders is bounded (<c>Ingress:Templates:MaxRenderedBytes</c> per email, the request body limit per
/// request): a loop of a few thousand steps over a 1 KB variable rendered 10 MB, and larger variables gigabytes.
/// </summary>
public sealed class TemplateRenderLimitTests
{
    /// <summary>Each item prints <c>name</c> once: <c>items</c> of n items and a name of m characters render n × (m + 9) bytes.</summary>
    private static JsonObject List() => new()
    {
        ["name"] = "List",
        ["alias"] = "list",
        ["subject"] = "Your list",
        ["html"] = "{% assign xs = items | split: \",\" %}{% for x in xs %}<li>{{ name }}</li>{% endfor %}",
        ["variables"] = new JsonArray(
            new JsonObject { ["name"] = "items", ["type"] = "string", ["required"] = true },
            new JsonObject { ["name"] = "name", ["type"] = "string", ["required"] = true }),
    };

    /// <summary>20 KB of items and a 1 KB name: 10 MB of HTML.</summary>
    private static JsonObject Huge() => Variables(10_000, 1000);

    private static JsonObject Variables(int items, int nameLength) => new()
    {
        ["items"] = string.Join(',', Enumerable.Repeat("a", items)),
        ["name"] = new string('x', nameLength),
    };

    [Fact]
    public async Task TemplateRenderingMoreThanTheDefaultLimitIsA422ForASendARenderAndATestSend()
    {
        await using var app = await IngressApp.StartAsync();
        await CreatePublishedAsync(app, List());
        using var client = app.CreateClient();

        using var send = await app.PostEmailAsync(Templated("list", Huge()).ToJsonString());
        using var render = await IngressApp.PostJsonAsync(client, "/v1/templates/list/render", new JsonObject { ["variables"] = Huge() }.ToJsonString());
        using var test = await IngressApp.PostJsonAsync(client, "/v1/templates/list/test",
            new JsonObject { ["to"] = "tester@example.test", ["from"] = "hello@acme.test", ["variables"] = Huge() }.ToJsonString());

        foreach (var response in new[] { send, render, test })
        {
            var problem = await ProblemAssert.IsDetailedProblemAsync(response, HttpStatusCode.UnprocessableEntity, "invalid_template_variables");
            var message = problem.GetProperty("errors").GetProperty("template")[0].GetString();
            Assert.Contains("renders more than 4194304 bytes", message, StringComparison.Ordinal);
        }

        Assert.Equal(0, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task EmailOverTheLimitIsItsOwnErrorInAPermissiveBatchAndFailsAStrictOne()
    {
        await using var app = await IngressApp.StartAsync();
        await CreatePublishedAsync(app, List());
        using var client = app.CreateClient();
        var body = new JsonArray(Templated("list", Variables(3, 2)), Templated("list", Huge()));

        using var strict = await IngressApp.PostJsonAsync(client, "/v1/emails/batch", body.ToJsonString());
        using var permissive = await IngressApp.PostJsonAsync(client, "/v1/emails/batch", body.ToJsonString(), ("x-batch-validation", "permissive"));

        var problem = await ProblemAssert.IsValidationProblemAsync(strict, "validation_error", "[1].template");
        Assert.Equal(["[1].template"], problem.GetProperty("errors").EnumerateObject().Select(e => e.Name));
        var text = await permissive.Content.ReadAsStringAsync();
        Assert.True(permissive.StatusCode == HttpStatusCode.OK, $"{(int)permissive.StatusCode}: {text}");
        var json = JsonDocument.Parse(text).RootElement;
        var id = Assert.Single(json.GetProperty("data").EnumerateArray()).GetProperty("id").GetGuid();
        Assert.Equal("<li>xx</li><li>xx</li><li>xx</li>", (await app.FindOutboxRowAsync(id))!.Command.Html);
        var error = Assert.Single(json.GetProperty("errors").EnumerateArray());
        Assert.Equal(1, error.GetProperty("index").GetInt32());
        Assert.Contains("renders more than", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task TheLimitIsConfigurableAndCountsTheSubjectHtmlAndTextInUtf8()
    {
        await using var app = await IngressApp.StartAsync(settings: new Dictionary<string, string?> { ["Ingress:Templates:MaxRenderedBytes"] = "2048" });
        var template = List();
        template["subject"] = "{{ name }}";
        template["text"] = "{{ name }}";
        await CreatePublishedAsync(app, template);

        // 'é' is two bytes in UTF-8 and '&#xE9;' in the HTML: n of them render 2n (subject) + 2 × (6n + 9) (HTML) + 2n (text)
        // bytes, 2098 for 130 (1838 characters) and 1618 for 100.
        using var over = await app.PostEmailAsync(Templated("list", new JsonObject { ["items"] = "a,a", ["name"] = new string('é', 130) }).ToJsonString());
        var underVariables = new JsonObject { ["items"] = "a,a", ["name"] = new string('é', 100) };

        var problem = await ProblemAssert.IsDetailedProblemAsync(over, HttpStatusCode.UnprocessableEntity, "invalid_template_variables");
        Assert.Contains("renders more than 2048 bytes", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        var under = await SendTemplatedAsync(app, "list", underVariables);
        Assert.Equal(new string('é', 100), under.Subject);
        Assert.Equal(1, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task TheEmailsOfOneRequestRenderNoMoreThanTheRequestBodyLimitTogether()
    {
        var settings = new Dictionary<string, string?>
        {
            ["Ingress:MaxRequestBodyBytes"] = (1024 * 1024).ToString(CultureInfo.InvariantCulture),
            ["Ingress:Templates:MaxRenderedBytes"] = (1024 * 1024).ToString(CultureInfo.InvariantCulture),
        };
        await using var app = await IngressApp.StartAsync(settings: settings);
        await CreatePublishedAsync(app, List());
        using var client = app.CreateClient();

        // Each renders 400 × 1009 = 403,600 bytes of HTML: two fit in 1 MB, the third does not.
        var item = Templated("list", Variables(400, 1000));
        var body = new JsonArray(item.DeepClone(), item.DeepClone(), item.DeepClone());
        using var response = await IngressApp.PostJsonAsync(client, "/v1/emails/batch", body.ToJsonString(), ("x-batch-validation", "permissive"));

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {text}");
        var json = JsonDocument.Parse(text).RootElement;
        Assert.Equal(2, json.GetProperty("data").GetArrayLength());
        var error = Assert.Single(json.GetProperty("errors").EnumerateArray());
        Assert.Equal(2, error.GetProperty("index").GetInt32());
        Assert.Contains("1048576 bytes", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(2, await app.CountOutboxAsync());
    }
}
