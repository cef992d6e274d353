using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using EmailPlatform.Ingress.Tests.Support;
using EmailPlatform.Testing;

namespace EmailPlatform.Ingress.Tests.Templates;

/// <summary><c>/v1/templates</c> and sends with <c>template</c>, over HTTP against a real PostgreSQL.</summary>
public sealed class TemplateEndpointTests
{
    internal static JsonObject Welcome() => new()
    {
        ["name"] = "Welcome",
        ["alias"] = "welcome",
        ["subject"] = "Welcome, {{ name }}!",
        ["html"] = "<p>Hello {{ name }}, you have {{ credits }} credits.</p><p><a href=\"https://acme.test/start\">Get started</a></p>",
        ["variables"] = new JsonArray(
            new JsonObject { ["name"] = "name", ["type"] = "string", ["required"] = true },
            new JsonObject { ["name"] = "credits", ["type"] = "number", ["required"] = false, ["default"] = 5 },
            new JsonObject { ["name"] = "vip", ["type"] = "boolean", ["required"] = false }),
    };

    [Fact]
    public async Task TemplateIsCreatedAsDraftAndEditsCreateVersionsThatStayPinnable()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();

        var created = await SendAsync(client, HttpMethod.Post, "/v1/templates", Welcome(), HttpStatusCode.Created);
        Assert.Equal("template", created.GetProperty("object").GetString());
        Assert.Equal(1, created.GetProperty("version").GetInt32());
        Assert.Equal("draft", created.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, created.GetProperty("published_version").ValueKind);
        var id = created.GetProperty("id").GetString()!;

        var published = await SendAsync(client, HttpMethod.Post, $"/v1/templates/{id}/publish", null, HttpStatusCode.OK);
        Assert.Equal("published", published.GetProperty("status").GetString());

        var edited = await SendAsync(client, HttpMethod.Patch, "/v1/templates/welcome", new JsonObject { ["subject"] = "Hi {{ name }}" }, HttpStatusCode.OK);
        Assert.Equal((2, "draft", 1), (edited.GetProperty("version").GetInt32(), edited.GetProperty("status").GetString(), edited.GetProperty("published_version").GetInt32()));
        Assert.Contains("credits", edited.GetProperty("html").GetString(), StringComparison.Ordinal);

        var first = await SendAsync(client, HttpMethod.Get, "/v1/templates/welcome@1", null, HttpStatusCode.OK);
        Assert.Equal("Welcome, {{ name }}!", first.GetProperty("subject").GetString());
        var latest = await SendAsync(client, HttpMethod.Get, $"/v1/templates/{id}", null, HttpStatusCode.OK);
        Assert.Equal("Hi {{ name }}", latest.GetProperty("subject").GetString());

        // Sends use the published version until the draft is published, or a pinned one.
        Assert.Equal("Welcome, Ada!", (await SendTemplatedAsync(app, "welcome", new JsonObject { ["name"] = "Ada" })).Subject);
        Assert.Equal("Hi Ada", (await SendTemplatedAsync(app, "welcome@2", new JsonObject { ["name"] = "Ada" })).Subject);
        await SendAsync(client, HttpMethod.Post, "/v1/templates/welcome/publish", null, HttpStatusCode.OK);
        Assert.Equal("Hi Ada", (await SendTemplatedAsync(app, "welcome", new JsonObject { ["name"] = "Ada" })).Subject);
        Assert.Equal("Welcome, Ada!", (await SendTemplatedAsync(app, $"{id}@1", new JsonObject { ["name"] = "Ada" })).Subject);

        var list = await SendAsync(client, HttpMethod.Get, "/v1/templates", null, HttpStatusCode.OK);
        var listed = Assert.Single(list.GetProperty("data").EnumerateArray());
        Assert.Equal((2, 2), (listed.GetProperty("published_version").GetInt32(), listed.GetProperty("latest_version").GetInt32()));

        await SendAsync(client, HttpMethod.Delete, "/v1/templates/welcome", null, HttpStatusCode.OK);
        await SendAsync(client, HttpMethod.Get, $"/v1/templates/{id}", null, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task TemplatesAreListedNewestFirstInPages()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();
        var ids = new List<Guid>();
        for (var i = 0; i < 4; i++)
        {
            var template = Welcome();
            template["name"] = $"Welcome {i}";
            template["alias"] = $"welcome-{i}";
            ids.Add((await SendAsync(client, HttpMethod.Post, "/v1/templates", template, HttpStatusCode.Created)).GetProperty("id").GetGuid());
        }

        await SendAsync(client, HttpMethod.Delete, $"/v1/templates/{ids[1]}", null, HttpStatusCode.OK);
        var deleted = ids[1];
        ids.RemoveAt(1);
        ids.Reverse();
        await NewestFirstPages.AssertAsync(client, "/v1/templates", ids, notListed: deleted);
    }

    [Fact]
    public async Task TemplateWithoutAPublishedVersionCannotBeSentUnpinned()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();
        await SendAsync(client, HttpMethod.Post, "/v1/templates", Welcome(), HttpStatusCode.Created);

        using var response = await app.PostEmailAsync(Templated("welcome", new JsonObject { ["name"] = "Ada" }).ToJsonString());

        await AssertProblemAsync(response, HttpStatusCode.NotFound, "not_found");
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task SendWithTemplateStoresTheRenderedContentWithATextPartKeepingLinks()
    {
        await using var app = await IngressApp.StartAsync();
        await CreatePublishedAsync(app, Welcome());

        var command = await SendTemplatedAsync(app, "welcome", new JsonObject { ["name"] = "Ada", ["unknown"] = "ignored" });

        Assert.Equal("Welcome, Ada!", command.Subject);
        Assert.Equal("<p>Hello Ada, you have 5 credits.</p><p><a href=\"https://acme.test/start\">Get started</a></p>", command.Html);
        Assert.Equal("Hello Ada, you have 5 credits.\n\nGet started (https://acme.test/start)", command.Text);
    }

    [Fact]
    public async Task DeeplyNestedHtmlOverrideIsSentWithoutADerivedTextPart()
    {
        // Parsing deeply nested tags takes AngleSharp quadratic time (100,000 divs: minutes of CPU), so no text part is
        // derived from such HTML; the send is accepted with its HTML alone.
        await using var app = await IngressApp.StartAsync();
        await CreatePublishedAsync(app, Welcome());
        var html = string.Concat(Enumerable.Repeat("<div>", 20_000)) + "Hi" + string.Concat(Enumerable.Repeat("</div>", 20_000));
        var body = Templated("welcome", new JsonObject { ["name"] = "Ada" });
        body["html"] = html;

        using var response = await app.PostEmailAsync(body.ToJsonString());

        var command = (await AcceptedAsync(app, response)).Command;
        Assert.Equal(html, command.Html);
        Assert.Null(command.Text);
        Assert.Equal("Welcome, Ada!", command.Subject);
    }

    [Fact]
    public async Task ExpiresAtOfATemplatedSendReachesTheCommand()
    {
        await using var app = await IngressApp.StartAsync();
        await CreatePublishedAsync(app, Welcome());
        var expiresAt = DateTimeOffset.UtcNow.AddHours(4);
        var body = Templated("welcome", new JsonObject { ["name"] = "Ada" });
        body["expires_at"] = expiresAt.ToString("O");

        using var response = await app.PostEmailAsync(body.ToJsonString());

        Assert.Equal(expiresAt, (await AcceptedAsync(app, response)).Command.ExpiresAt);
    }

    [Fact]
    public async Task FieldsGivenAlongsideTheTemplateOverrideIt()
    {
        await using var app = await IngressApp.StartAsync();
        await CreatePublishedAsync(app, Welcome());
        var body = Templated("welcome", new JsonObject { ["name"] = "Ada" });
        body["subject"] = "Chosen subject";
        body["text"] = "Chosen text";

        using var response = await app.PostEmailAsync(body.ToJsonString());

        var command = (await AcceptedAsync(app, response)).Command;
        Assert.Equal(("Chosen subject", "Chosen text"), (command.Subject, command.Text));
        Assert.StartsWith("<p>Hello Ada", command.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HostileVariableValuesAreHtmlEncodedInTheHtmlPart()
    {
        await using var app = await IngressApp.StartAsync();
        await CreatePublishedAsync(app, Welcome());

        var command = await SendTemplatedAsync(app, "welcome", new JsonObject { ["name"] = "<script>alert(\"x\")</script>' onload='" });

        Assert.DoesNotContain("<script>", command.Html, StringComparison.Ordinal);
        Assert.Contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#x27; onload=&#x27;", command.Html, StringComparison.Ordinal);
        Assert.Equal("Welcome, <script>alert(\"x\")</script>' onload='!", command.Subject);
    }

    [Theory]
    [InlineData("Ada\r\nBcc: victim@example.test")]
    [InlineData("Ada\nX-Injected: yes")]
    [InlineData("Ada\u0000")]
    public async Task ControlCharactersInASubjectVariableAreRefusedAndNothingIsStored(string name)
    {
        await using var app = await IngressApp.StartAsync();
        await CreatePublishedAsync(app, Welcome());

        using var response = await app.PostEmailAsync(Templated("welcome", new JsonObject { ["name"] = name }).ToJsonString());

        var problem = await AssertProblemAsync(response, HttpStatusCode.UnprocessableEntity, "invalid_template_variables");
        Assert.True(problem.GetProperty("errors").TryGetProperty("subject", out _), problem.ToString());
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task MissingAndWrongTypedVariablesAreEachListedIn422()
    {
        await using var app = await IngressApp.StartAsync();
        await CreatePublishedAsync(app, Welcome());

        using var response = await app.PostEmailAsync(Templated("welcome", new JsonObject { ["credits"] = "many", ["vip"] = 1 }).ToJsonString());

        var problem = await AssertProblemAsync(response, HttpStatusCode.UnprocessableEntity, "invalid_template_variables");
        var errors = problem.GetProperty("errors");
        Assert.Equal(["template.variables.credits", "template.variables.name", "template.variables.vip"],
            errors.EnumerateObject().Select(e => e.Name).Order(StringComparer.Ordinal));
        Assert.Contains("required", errors.GetProperty("template.variables.name")[0].GetString(), StringComparison.Ordinal);
        Assert.Contains("must be a number", errors.GetProperty("template.variables.credits")[0].GetString(), StringComparison.Ordinal);
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    [Theory]
    [InlineData("no-such-template")]
    [InlineData("0195a3c2-0000-7000-8000-000000000000")]
    [InlineData("welcome@9")]
    public async Task UnknownTemplateOrVersionIsA404Problem(string reference)
    {
        await using var app = await IngressApp.StartAsync();
        await CreatePublishedAsync(app, Welcome());

        using var response = await app.PostEmailAsync(Templated(reference, new JsonObject { ["name"] = "Ada" }).ToJsonString());

        await AssertProblemAsync(response, HttpStatusCode.NotFound, "not_found");
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    [Theory]
    [InlineData(null)]
    [InlineData(" ")]
    public async Task ATemplateWithoutAnIdIsAMissingRequiredFieldNamingIt(string? id)
    {
        await using var app = await IngressApp.StartAsync();
        var body = Templated("welcome", new JsonObject());
        body["template"]!["id"] = id;

        using var response = await app.PostEmailAsync(body.ToJsonString());

        await ProblemAssert.IsValidationProblemAsync(response, "missing_required_field", "template.id");
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task RenderReturnsTheRenderedPartsWithoutSending()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();
        await SendAsync(client, HttpMethod.Post, "/v1/templates", Welcome(), HttpStatusCode.Created);

        var rendered = await SendAsync(client, HttpMethod.Post, "/v1/templates/welcome/render",
            new JsonObject { ["variables"] = new JsonObject { ["name"] = "Bo & Co", ["credits"] = 7.5 } }, HttpStatusCode.OK);

        Assert.Equal("Welcome, Bo & Co!", rendered.GetProperty("subject").GetString());
        Assert.StartsWith("<p>Hello Bo &amp; Co, you have 7.5 credits.</p>", rendered.GetProperty("html").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("Hello Bo & Co, you have 7.5 credits.", rendered.GetProperty("text").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, await app.CountOutboxAsync());

        using var missing = await client.PostAsync(new Uri("/v1/templates/welcome/render", UriKind.Relative),
            new StringContent("""{"variables": {}}""", System.Text.Encoding.UTF8, "application/json"));
        await AssertProblemAsync(missing, HttpStatusCode.UnprocessableEntity, "invalid_template_variables");
    }

    [Fact]
    public async Task AliasOrVariableNameEndingInALineFeedIsRefused()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();
        var body = Welcome();
        body["alias"] = "welcome\n";
        body["variables"] = new JsonArray(new JsonObject { ["name"] = "name\n", ["type"] = "string" });

        var problem = await SendAsync(client, HttpMethod.Post, "/v1/templates", body, HttpStatusCode.BadRequest);

        var errors = problem.GetProperty("errors");
        Assert.True(errors.TryGetProperty("alias", out _) && errors.TryGetProperty("variables[0]", out _), problem.ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    public async Task EditThatEmptiesTheSubjectIsRefusedAndMakesNoVersion(string subject)
    {
        // It was stored as a new version, which every send then refused for its missing subject.
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();
        await SendAsync(client, HttpMethod.Post, "/v1/templates", Welcome(), HttpStatusCode.Created);

        using var request = new HttpRequestMessage(HttpMethod.Patch, new Uri("/v1/templates/welcome", UriKind.Relative))
        {
            Content = new StringContent(new JsonObject { ["subject"] = subject }.ToJsonString(), System.Text.Encoding.UTF8, "application/json"),
        };
        using var response = await client.SendAsync(request);

        var problem = await ProblemAssert.IsValidationProblemAsync(response, "validation_error", "subject");
        Assert.Equal(["subject"], problem.GetProperty("errors").EnumerateObject().Select(e => e.Name));
        var latest = await SendAsync(client, HttpMethod.Get, "/v1/templates/welcome", null, HttpStatusCode.OK);
        Assert.Equal((1, "Welcome, {{ name }}!"), (latest.GetProperty("latest_version").GetInt32(), latest.GetProperty("subject").GetString()));
    }

    [Fact]
    public async Task TemplateWithInvalidLiquidOrVariablesIsRefused()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();
        var body = Welcome();
        body["html"] = "<p>{% if name %}unclosed</p>";
        body["variables"] = new JsonArray(new JsonObject { ["name"] = "count", ["type"] = "integer" });

        var problem = await SendAsync(client, HttpMethod.Post, "/v1/templates", body, HttpStatusCode.BadRequest);

        var errors = problem.GetProperty("errors");
        Assert.True(errors.TryGetProperty("html", out _) && errors.TryGetProperty("variables[0]", out _), problem.ToString());
    }

    [Theory]
    [InlineData("{% include '/etc/passwd' %}")]
    [InlineData("{% render 'secrets' %}")]
    public async Task TemplatesCannotIncludeFiles(string html)
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();
        var body = Welcome();
        body["html"] = html;

        var problem = await SendAsync(client, HttpMethod.Post, "/v1/templates", body, HttpStatusCode.BadRequest);

        Assert.Contains("Unknown tag", problem.GetProperty("errors").GetProperty("html")[0].GetString(), StringComparison.Ordinal);
    }

    /// <summary>
    /// A loop over a huge range, or a huge range assigned, is refused at once: without the range bound Fluid allocated
    /// the hundred million elements (4 GB, 30 s) before MaxSteps could stop the loop.
    /// </summary>
    [Theory]
    [InlineData("{% for i in (1..times) %}{{ i }}{% endfor %}")]
    [InlineData("{% assign all = (1..times) %}{{ all.size }}")]
    [InlineData("{% for i in (1..1000) %}{% for j in (1..1000) %}{{ j }}{% endfor %}{% endfor %}")]
    public async Task RunawayLoopIsStoppedWith422(string text)
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();
        var body = Welcome();
        body["text"] = text;
        body["variables"] = new JsonArray(new JsonObject { ["name"] = "times", ["type"] = "number", ["required"] = true });
        await SendAsync(client, HttpMethod.Post, "/v1/templates", body, HttpStatusCode.Created);

        var problem = await SendAsync(client, HttpMethod.Post, "/v1/templates/welcome/render",
            new JsonObject { ["variables"] = new JsonObject { ["times"] = 100_000_000 } }, HttpStatusCode.UnprocessableEntity);

        Assert.True(problem.GetProperty("errors").TryGetProperty("template", out _), problem.ToString());
    }

    [Fact]
    public async Task StrictBatchWithTwoTemplatedEmailsStoresBothRendered()
    {
        await using var app = await IngressApp.StartAsync();
        await CreatePublishedAsync(app, Welcome());
        using var client = app.CreateClient();
        var body = new JsonArray(Templated("welcome", new JsonObject { ["name"] = "Ada" }), Templated("welcome", new JsonObject { ["name"] = "Bo", ["credits"] = 9 }));

        using var response = await IngressApp.PostJsonAsync(client, "/v1/emails/batch", body.ToJsonString());

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        var ids = JsonDocument.Parse(text).RootElement.GetProperty("data").EnumerateArray().Select(e => e.GetProperty("id").GetGuid()).ToList();
        Assert.Equal(2, ids.Count);
        var first = (await app.FindOutboxRowAsync(ids[0]))!.Command;
        var second = (await app.FindOutboxRowAsync(ids[1]))!.Command;
        Assert.Equal(("Welcome, Ada!", "Welcome, Bo!"), (first.Subject, second.Subject));
        Assert.StartsWith("<p>Hello Bo, you have 9 credits.</p>", second.Html, StringComparison.Ordinal);
        Assert.StartsWith("Hello Ada, you have 5 credits.", first.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StrictBatchWithAnUnrenderableTemplateStoresNothingAndKeysTheErrorByIndex()
    {
        await using var app = await IngressApp.StartAsync();
        await CreatePublishedAsync(app, Welcome());
        using var client = app.CreateClient();
        var body = new JsonArray(Templated("welcome", new JsonObject { ["name"] = "Ada" }), Templated("no-such-template", new JsonObject()),
            Templated("welcome", new JsonObject()));

        using var response = await IngressApp.PostJsonAsync(client, "/v1/emails/batch", body.ToJsonString());

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation_error");
        var errors = problem.GetProperty("errors");
        Assert.Equal(["[1].template.id", "[2].template.variables.name"], errors.EnumerateObject().Select(e => e.Name).Order(StringComparer.Ordinal));
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task TemplateArithmeticThatFailsWithTheSendersVariablesIsThatEmailsErrorNotA500()
    {
        await using var app = await IngressApp.StartAsync();
        var perItem = Welcome();
        perItem["alias"] = "per-item";
        perItem["html"] = "<p>{{ credits | divided_by: vip_count }} credits each</p>";
        perItem["variables"] = new JsonArray(
            new JsonObject { ["name"] = "credits", ["type"] = "number", ["required"] = true },
            new JsonObject { ["name"] = "vip_count", ["type"] = "number", ["required"] = true });
        await CreatePublishedAsync(app, perItem);
        using var client = app.CreateClient();

        using var single = await app.PostEmailAsync(Templated("per-item", new JsonObject { ["credits"] = 10, ["vip_count"] = 0 }).ToJsonString());
        var problem = await ProblemAssert.IsDetailedProblemAsync(single, HttpStatusCode.UnprocessableEntity, "invalid_template_variables");
        Assert.True(problem.GetProperty("errors").TryGetProperty("template", out _), problem.ToString());

        var body = new JsonArray(
            Templated("per-item", new JsonObject { ["credits"] = 10, ["vip_count"] = 0 }),
            Templated("per-item", new JsonObject { ["credits"] = 10, ["vip_count"] = 2 }));
        using var batch = await IngressApp.PostJsonAsync(client, "/v1/emails/batch", body.ToJsonString(), ("x-batch-validation", "permissive"));
        var text = await batch.Content.ReadAsStringAsync();
        Assert.True(batch.StatusCode == HttpStatusCode.OK, text);
        var json = JsonDocument.Parse(text).RootElement;
        Assert.Single(json.GetProperty("data").EnumerateArray());
        Assert.Equal(0, Assert.Single(json.GetProperty("errors").EnumerateArray()).GetProperty("index").GetInt32());
        Assert.Equal(1, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task LoneSurrogateInAStringVariableIsAVariableErrorNotA500()
    {
        // Valid JSON, but "\ud800" is no Unicode string: reading it threw outside the renderer's error handling.
        await using var app = await IngressApp.StartAsync();
        await CreatePublishedAsync(app, Welcome());
        using var client = app.CreateClient();
        static string LoneSurrogate(JsonNode body) => body.ToJsonString().Replace("LONE", "\\ud800", StringComparison.Ordinal);

        using var single = await app.PostEmailAsync(LoneSurrogate(Templated("welcome", new JsonObject { ["name"] = "LONE" })));
        using var render = await IngressApp.PostJsonAsync(client, "/v1/templates/welcome/render", LoneSurrogate(new JsonObject { ["variables"] = new JsonObject { ["name"] = "LONE" } }));
        using var batch = await IngressApp.PostJsonAsync(client, "/v1/emails/batch", LoneSurrogate(new JsonArray(
            Templated("welcome", new JsonObject { ["name"] = "LONE" }), Templated("welcome", new JsonObject { ["name"] = "Ada" }))), ("x-batch-validation", "permissive"));
        var withDefault = Welcome();
        withDefault["alias"] = "lone-default";
        withDefault["variables"]![0]!["default"] = "LONE";
        using var create = await IngressApp.PostJsonAsync(client, "/v1/templates", LoneSurrogate(withDefault));

        var problem = await AssertProblemAsync(single, HttpStatusCode.UnprocessableEntity, "invalid_template_variables");
        Assert.Contains("must be a string", problem.GetProperty("errors").GetProperty("template.variables.name")[0].GetString(), StringComparison.Ordinal);
        await AssertProblemAsync(render, HttpStatusCode.UnprocessableEntity, "invalid_template_variables");
        var text = await batch.Content.ReadAsStringAsync();
        Assert.True(batch.StatusCode == HttpStatusCode.OK, text);
        var json = JsonDocument.Parse(text).RootElement;
        Assert.Single(json.GetProperty("data").EnumerateArray());
        Assert.Equal(0, Assert.Single(json.GetProperty("errors").EnumerateArray()).GetProperty("index").GetInt32());
        Assert.True(create.StatusCode == HttpStatusCode.BadRequest, await create.Content.ReadAsStringAsync());
        Assert.Equal(1, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task TemplateSourceWithNulIsRefusedAndNothingIsStored()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();
        var template = Welcome();
        template["html"] = "<p>Hello {{ name }}\u0000</p>";

        using var response = await IngressApp.PostJsonAsync(client, "/v1/templates", template.ToJsonString());

        await ProblemAssert.IsValidationProblemAsync(response, "validation_error", "html");
        using var list = await client.GetAsync(new Uri("/v1/templates", UriKind.Relative));
        Assert.Empty(JsonDocument.Parse(await list.Content.ReadAsStringAsync()).RootElement.GetProperty("data").EnumerateArray());
    }

    [Fact]
    public async Task PermissiveBatchWithAnUnknownTemplateAcceptsTheOther()
    {
        await using var app = await IngressApp.StartAsync();
        await CreatePublishedAsync(app, Welcome());
        using var client = app.CreateClient();
        var body = new JsonArray(Templated("no-such-template", new JsonObject { ["name"] = "Ada" }), Templated("welcome", new JsonObject { ["name"] = "Bo" }));

        using var response = await IngressApp.PostJsonAsync(client, "/v1/emails/batch", body.ToJsonString(), ("x-batch-validation", "permissive"));

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        var json = JsonDocument.Parse(text).RootElement;
        var id = Assert.Single(json.GetProperty("data").EnumerateArray()).GetProperty("id").GetGuid();
        Assert.Equal("Welcome, Bo!", (await app.FindOutboxRowAsync(id))!.Command.Subject);
        var error = Assert.Single(json.GetProperty("errors").EnumerateArray());
        Assert.Equal(0, error.GetProperty("index").GetInt32());
        Assert.Contains("no-such-template", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task TestSendStoresOneEmailRenderedFromTheLatestDraftToTheGivenAddress()
    {
        await using var app = await IngressApp.StartAsync();
        await CreatePublishedAsync(app, Welcome());
        using var client = app.CreateClient();
        await SendAsync(client, HttpMethod.Patch, "/v1/templates/welcome", new JsonObject { ["subject"] = "Draft for {{ name }}" }, HttpStatusCode.OK);

        var accepted = await SendAsync(client, HttpMethod.Post, "/v1/templates/welcome/test", new JsonObject
        {
            ["to"] = "tester@example.test",
            ["from"] = "Acme <hello@acme.test>",
            ["variables"] = new JsonObject { ["name"] = "Ada" },
        }, HttpStatusCode.Accepted);

        var entry = await app.FindOutboxRowAsync(accepted.GetProperty("id").GetGuid());
        Assert.NotNull(entry);
        Assert.Equal(1, await app.CountOutboxAsync());
        Assert.Equal("tester@example.test", Assert.Single(entry.Command.To));
        Assert.Equal("Acme <hello@acme.test>", entry.Command.From);
        Assert.Equal("Draft for Ada", entry.Command.Subject);
        Assert.Equal("<p>Hello Ada, you have 5 credits.</p><p><a href=\"https://acme.test/start\">Get started</a></p>", entry.Command.Html);
        Assert.StartsWith("Hello Ada, you have 5 credits.", entry.Command.Text, StringComparison.Ordinal);

        // Pinned to the published version; and 'from' is required, as for a send.
        var pinned = await SendAsync(client, HttpMethod.Post, "/v1/templates/welcome@1/test", new JsonObject
        {
            ["to"] = "tester@example.test",
            ["from"] = "hello@acme.test",
            ["variables"] = new JsonObject { ["name"] = "Ada" },
        }, HttpStatusCode.Accepted);
        Assert.Equal("Welcome, Ada!", (await app.FindOutboxRowAsync(pinned.GetProperty("id").GetGuid()))!.Command.Subject);
        var noSender = await SendAsync(client, HttpMethod.Post, "/v1/templates/welcome/test", new JsonObject
        {
            ["to"] = "tester@example.test",
            ["variables"] = new JsonObject { ["name"] = "Ada" },
        }, HttpStatusCode.BadRequest);
        Assert.True(noSender.GetProperty("errors").TryGetProperty("from", out _), noSender.ToString());
        Assert.Equal(2, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task TemplatesRequireTheAdminScope()
    {
        await using var app = await IngressApp.StartAsync();
        var (token, _) = await app.CreateApiKeyAsync(new { name = "sender", scopes = new[] { "send" } });
        using var client = app.CreateClient(token);

        using var response = await client.GetAsync(new Uri("/v1/templates", UriKind.Relative));

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    internal static JsonObject Templated(string id, JsonObject variables)
    {
        var body = SendBodies.Json();
        body.Remove("subject");
        body.Remove("html");
        body.Remove("text");
        body["template"] = new JsonObject { ["id"] = id, ["variables"] = variables };
        return body;
    }

    internal static async Task CreatePublishedAsync(IngressApp app, JsonObject template)
    {
        using var client = app.CreateClient();
        var created = await SendAsync(client, HttpMethod.Post, "/v1/templates", template, HttpStatusCode.Created);
        await SendAsync(client, HttpMethod.Post, $"/v1/templates/{created.GetProperty("id").GetString()}/publish", null, HttpStatusCode.OK);
    }

    internal static async Task<EmailPlatform.Contracts.SendEmail> SendTemplatedAsync(IngressApp app, string id, JsonObject variables)
    {
        using var response = await app.PostEmailAsync(Templated(id, variables).ToJsonString());
        var entry = await AcceptedAsync(app, response);
        Assert.Equal(entry.Command.Subject, entry.Accepted.Subject);
        Assert.Equal(entry.Command.Html, entry.Accepted.Html);
        return entry.Command;
    }

    internal static async Task<OutboxEntry> AcceptedAsync(IngressApp app, HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"{(int)response.StatusCode}: {text}");
        var id = JsonDocument.Parse(text).RootElement.GetProperty("id").GetGuid();
        var entry = await app.FindOutboxRowAsync(id);
        Assert.NotNull(entry);
        return entry;
    }

    internal static async Task<JsonElement> SendAsync(HttpClient client, HttpMethod method, string path, JsonObject? body, HttpStatusCode expected)
    {
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
        request.Content = new StringContent(body?.ToJsonString() ?? "{}", System.Text.Encoding.UTF8, "application/json");
        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{method} {path}: {(int)response.StatusCode} {text}");
        return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
    }

    internal static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string name)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"{(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(text).RootElement.Clone();
        Assert.Equal(name, problem.GetProperty("name").GetString());
        return problem;
    }
}
