using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using EmailPlatform.Ingress.Tests.Support;
using EmailPlatform.Testing;

namespace EmailPlatform.Ingress.Tests.Batches;

/// <summary><c>POST /v1/emails/batch</c>: strict all-or-nothing, permissive per index, bounds and shape.</summary>
public sealed class BatchEndpointTests
{
    [Fact]
    public async Task StrictBatchAcceptsAllAndAnswersDataOnly()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();
        var body = new JsonArray(SendBodies.Json(), SendBodies.Json(b => b["to"] = "bob@example.test"), SendBodies.Json(b => b["subject"] = "3"));

        using var response = await IngressApp.PostJsonAsync(client, "/v1/emails/batch", body.ToJsonString());

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        using var json = JsonDocument.Parse(text);
        Assert.Equal(["data"], json.RootElement.EnumerateObject().Select(p => p.Name));
        var ids = json.RootElement.GetProperty("data").EnumerateArray()
            .Select(e => { Assert.Equal(["id"], e.EnumerateObject().Select(p => p.Name)); return e.GetProperty("id").GetGuid(); }).ToList();
        Assert.Equal(3, ids.Distinct().Count());
        Assert.Equal(3, await app.CountOutboxAsync());
        foreach (var id in ids)
        {
            Assert.NotNull(await app.FindOutboxRowAsync(id));
        }

        Assert.Equal("bob@example.test", Assert.Single((await app.FindOutboxRowAsync(ids[1]))!.Command.To));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("strict")]
    public async Task StrictBatchWithOneInvalidEmailStoresNothingAndKeysErrorsByIndex(string? mode)
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();
        var body = new JsonArray(SendBodies.Json(), SendBodies.Json(b => b["from"] = "not an address"), SendBodies.Json(b => b.Remove("subject")));

        using var response = mode is null
            ? await IngressApp.PostJsonAsync(client, "/v1/emails/batch", body.ToJsonString())
            : await IngressApp.PostJsonAsync(client, "/v1/emails/batch", body.ToJsonString(), ("x-batch-validation", mode));

        var problem = await ProblemAssert.IsValidationProblemAsync(response, "validation_error", "[1].from");
        Assert.True(problem.GetProperty("errors").TryGetProperty("[2].subject", out _), problem.ToString());
        Assert.DoesNotContain(problem.GetProperty("errors").EnumerateObject(), p => p.Name.StartsWith("[0]", StringComparison.Ordinal));
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task PermissiveBatchAcceptsTheValidOnesAndListsTheOthersByIndex()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();
        var body = new JsonArray(SendBodies.Json(b => b["subject"] = "bad\r\nBcc: x@evil.test"), SendBodies.Json(), SendBodies.Json(b => b["to"] = new JsonArray()));

        using var response = await IngressApp.PostJsonAsync(client, "/v1/emails/batch", body.ToJsonString(), ("x-batch-validation", "permissive"));

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        using var json = JsonDocument.Parse(text);
        var id = Assert.Single(json.RootElement.GetProperty("data").EnumerateArray()).GetProperty("id").GetGuid();
        var errors = json.RootElement.GetProperty("errors").EnumerateArray().ToList();
        Assert.Equal([0, 2], errors.Select(e => e.GetProperty("index").GetInt32()));
        Assert.All(errors, e => Assert.False(string.IsNullOrWhiteSpace(e.GetProperty("message").GetString())));
        Assert.Equal(1, await app.CountOutboxAsync());
        Assert.NotNull(await app.FindOutboxRowAsync(id));
    }

    /// <summary>
    /// An email of the wrong shape (a number for <c>to</c>, a string for the whole email) is that email's error in a
    /// permissive batch, like any other invalid email: the rest are accepted.
    /// </summary>
    [Fact]
    public async Task PermissiveBatchAcceptsTheOthersWhenAnEmailHasTheWrongShape()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();
        var body = new JsonArray(SendBodies.Json(), SendBodies.Json(b => b["to"] = 5), "an email", SendBodies.Json(b => b["subject"] = "4"));

        using var response = await IngressApp.PostJsonAsync(client, "/v1/emails/batch", body.ToJsonString(), ("x-batch-validation", "permissive"));

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        using var json = JsonDocument.Parse(text);
        Assert.Equal(2, json.RootElement.GetProperty("data").GetArrayLength());
        var errors = json.RootElement.GetProperty("errors").EnumerateArray().ToList();
        Assert.Equal([1, 2], errors.Select(e => e.GetProperty("index").GetInt32()));
        Assert.Contains("'to'", errors[0].GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(2, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task StrictBatchWithAnEmailOfTheWrongShapeNamesItsFieldAndStoresNothing()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();
        var body = new JsonArray(SendBodies.Json(), SendBodies.Json(b => b["to"] = 5));

        using var response = await IngressApp.PostJsonAsync(client, "/v1/emails/batch", body.ToJsonString(), ("x-batch-validation", "strict"));

        await ProblemAssert.IsValidationProblemAsync(response, "validation_error", "[1].to");
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    [Theory]
    [InlineData("[{\"from\": \"a@acme.test\"")]
    [InlineData("[{}] trailing")]
    [InlineData("[{},]")]
    public async Task BatchThatIsNotWellFormedJsonIsRefusedAsAWhole(string body)
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();

        using var response = await IngressApp.PostJsonAsync(client, "/v1/emails/batch", body, ("x-batch-validation", "permissive"));

        await ProblemAssert.IsDetailedProblemAsync(response, HttpStatusCode.BadRequest, "validation_error");
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    [Theory]
    [InlineData("Permissive")]
    [InlineData("PERMISSIVE")]
    public async Task ValidationModeIgnoresCase(string mode)
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();
        var body = new JsonArray(SendBodies.Json(), SendBodies.Json(b => b["from"] = "not an address"));

        using var response = await IngressApp.PostJsonAsync(client, "/v1/emails/batch", body.ToJsonString(), ("x-batch-validation", mode));

        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        Assert.Equal(1, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task BatchOfMoreThanOneHundredIsRefused()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();
        var body = new JsonArray(Enumerable.Range(0, 101).Select(_ => (JsonNode)SendBodies.Json()).ToArray());

        using var response = await IngressApp.PostJsonAsync(client, "/v1/emails/batch", body.ToJsonString());

        await ProblemAssert.IsDetailedProblemAsync(response, HttpStatusCode.BadRequest, "validation_error");
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task BatchOfExactlyOneHundredIsAccepted()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();
        var body = new JsonArray(Enumerable.Range(0, 100).Select(_ => (JsonNode)SendBodies.Json()).ToArray());

        using var response = await IngressApp.PostJsonAsync(client, "/v1/emails/batch", body.ToJsonString());

        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        Assert.Equal(100, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task EmptyBatchIsRefused()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();

        using var response = await IngressApp.PostJsonAsync(client, "/v1/emails/batch", "[]");

        await ProblemAssert.IsDetailedProblemAsync(response, HttpStatusCode.BadRequest, "validation_error");
    }

    [Theory]
    [InlineData("lenient")]
    [InlineData("STRICTISH")]
    public async Task UnknownValidationModeIsRefused(string mode)
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();

        using var response = await IngressApp.PostJsonAsync(client, "/v1/emails/batch", new JsonArray(SendBodies.Json()).ToJsonString(), ("x-batch-validation", mode));

        var problem = await ProblemAssert.IsDetailedProblemAsync(response, HttpStatusCode.BadRequest, "invalid_parameter");
        Assert.True(problem.GetProperty("errors").TryGetProperty("x-batch-validation", out _), problem.ToString());
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task BatchThatIsNotAnArrayIsRefused()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();

        using var response = await IngressApp.PostJsonAsync(client, "/v1/emails/batch", SendBodies.Json().ToJsonString());

        await ProblemAssert.IsDetailedProblemAsync(response, HttpStatusCode.BadRequest, "validation_error");
    }
}
