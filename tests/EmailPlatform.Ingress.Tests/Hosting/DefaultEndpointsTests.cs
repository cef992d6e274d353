using System.Net;
using System.Text.Json;
using EmailPlatform.Ingress.Tests.Support;
using EmailPlatform.Testing;

namespace EmailPlatform.Ingress.Tests.Hosting;

/// <summary>What every host serves besides its API: probes, the OpenAPI document, metrics and problem details for unknown routes.</summary>
public sealed class DefaultEndpointsTests
{
    [Fact]
    public async Task LivenessProbeAnswersWithoutAnApiKey()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateAnonymousClient();

        using var response = await client.GetAsync(new Uri("/health/live", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task ReadinessProbeTurnsHealthyOnceTheStoreAndTheBrokerAreReachable()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateAnonymousClient();

        var status = await Eventually.GetAsync(
            async () =>
            {
                using var response = await client.GetAsync(new Uri("/health/ready", UriKind.Relative));
                return response.StatusCode;
            },
            s => s == HttpStatusCode.OK,
            TimeSpan.FromSeconds(60),
            "/health/ready to answer 200");

        Assert.Equal(HttpStatusCode.OK, status);
    }

    [Fact]
    public async Task OpenApiDocumentDescribesTheSendEndpoint()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateAnonymousClient();

        using var response = await client.GetAsync(new Uri("/openapi/v1.json", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var send = json.RootElement.GetProperty("paths").GetProperty("/v1/emails").GetProperty("post");
        Assert.Equal("SendEmail", send.GetProperty("operationId").GetString());
        Assert.True(send.GetProperty("requestBody").GetProperty("content").TryGetProperty("application/json", out _));
        Assert.True(send.GetProperty("responses").TryGetProperty("202", out _));
    }

    [Fact]
    public async Task MetricsEndpointServesPrometheusTextIncludingAcceptedEmails()
    {
        await using var app = await IngressApp.StartAsync();
        using (var accepted = await app.PostEmailAsync(SendBodies.Json().ToJsonString()))
        {
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        }

        using var client = app.CreateAnonymousClient();
        using var response = await client.GetAsync(new Uri("/metrics", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Contains("# TYPE emailplatform_accepted_total counter", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE http_server_request_duration_seconds histogram", text, StringComparison.Ordinal);
    }

    /// <summary>
    /// A scheduled email stays in the outbox until its scheduled_at: the accepted count tells it from one to send now, so
    /// the alert on an outbox that publishes nothing (EmailPlatformOutboxStalled) does not fire on scheduled sends.
    /// </summary>
    [Fact]
    public async Task AcceptedEmailsAreCountedApartByWhetherTheyAreScheduled()
    {
        await using var app = await IngressApp.StartAsync();
        var later = DateTimeOffset.UtcNow.AddHours(1).ToString("O", System.Globalization.CultureInfo.InvariantCulture);
        foreach (var body in new[] { SendBodies.Json(), SendBodies.Json(b => b["scheduled_at"] = later) })
        {
            using var accepted = await app.PostEmailAsync(body.ToJsonString());
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        }

        using var client = app.CreateAnonymousClient();
        var text = await client.GetStringAsync(new Uri("/metrics", UriKind.Relative));

        Assert.Matches("""(?m)^emailplatform_accepted_total\{[^}]*scheduled="false"[^}]*\} [1-9]""", text);
        Assert.Matches("""(?m)^emailplatform_accepted_total\{[^}]*scheduled="true"[^}]*\} [1-9]""", text);
    }

    [Theory]
    [InlineData("/v1/nothing-here")]
    [InlineData("/v1/emails/batch/x/y")]
    public async Task UnknownRouteUnderV1ReturnsNotFoundProblem(string path)
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();

        using var response = await client.GetAsync(new Uri(path, UriKind.Relative));

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task GettingAnEmailWithoutAStatusServiceConfiguredReturnsAProblem()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();

        using var response = await client.GetAsync(new Uri($"/v1/emails/{Guid.NewGuid()}", UriKind.Relative));

        var name = response.StatusCode == HttpStatusCode.MethodNotAllowed ? "method_not_allowed" : "not_found";
        Assert.Contains(response.StatusCode, new[] { HttpStatusCode.NotFound, HttpStatusCode.MethodNotAllowed });
        await ProblemAssert.IsProblemAsync(response, response.StatusCode, name);
    }

    [Fact]
    public async Task ListingEmailsWithoutAStatusServiceConfiguredReturnsMethodNotAllowedProblem()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();

        using var response = await client.GetAsync(new Uri("/v1/emails", UriKind.Relative));

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.MethodNotAllowed, "method_not_allowed");
    }

    [Theory]
    [InlineData("text/html")]
    [InlineData("text/plain")]
    [InlineData("application/json")]
    public async Task UnknownRouteReturnsACompleteProblemWhateverTheClientAccepts(string accept)
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();
        client.DefaultRequestHeaders.Accept.ParseAdd(accept);

        using var response = await client.GetAsync(new Uri("/v1/nope", UriKind.Relative));

        await ProblemAssert.IsDetailedProblemAsync(response, HttpStatusCode.NotFound, "not_found");
    }

    [Theory]
    [InlineData("text/html")]
    [InlineData("text/plain")]
    [InlineData("application/json")]
    public async Task WrongMethodReturnsACompleteProblemWhateverTheClientAccepts(string accept)
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();
        client.DefaultRequestHeaders.Accept.ParseAdd(accept);

        using var response = await client.DeleteAsync(new Uri("/v1/emails", UriKind.Relative));

        await ProblemAssert.IsDetailedProblemAsync(response, HttpStatusCode.MethodNotAllowed, "method_not_allowed");
    }

    [Theory]
    [InlineData("GET", "/v1/nope")]
    [InlineData("DELETE", "/v1/emails")]
    public async Task ProblemForAnHtmlClientCarriesTheSameMembersAsForAJsonClient(string method, string path)
    {
        await using var app = await IngressApp.StartAsync();

        var html = await ProblemMembersAsync(app, method, path, "text/html");
        var json = await ProblemMembersAsync(app, method, path, "application/json");

        Assert.Equal(string.Join(", ", json.Keys.Order()), string.Join(", ", html.Keys.Order()));
        // The trace id differs per request; every other member must be the same.
        Assert.Equal(json.Where(m => m.Key != "trace_id"), html.Where(m => m.Key != "trace_id"));
    }

    private static async Task<Dictionary<string, string>> ProblemMembersAsync(IngressApp app, string method, string path, string accept)
    {
        using var client = app.CreateClient();
        using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(path, UriKind.Relative));
        request.Headers.Accept.ParseAdd(accept);
        using var response = await client.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(body);
        return problem.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetRawText());
    }
}
