using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using EmailPlatform.Ingress.Tests.Support;
using EmailPlatform.Testing;

namespace EmailPlatform.Ingress.Tests.Sending;

/// <summary>Configured limits and the value checks of §1/§4, through HTTP: nothing over a limit is stored.</summary>
public sealed class LimitsTests
{
    [Fact]
    public async Task BodyOverTheConfiguredLimitIsRefusedWith413AndNothingIsStored()
    {
        await using var app = await IngressApp.StartAsync(settings: new Dictionary<string, string?> { ["Ingress:MaxRequestBodyBytes"] = "2048" });
        using var client = app.CreateClient();
        var body = SendBodies.Json(b => b["text"] = new string('x', 3000)).ToJsonString();

        using var response = await IngressApp.PostJsonAsync(client, "/v1/emails", body);

        await ProblemAssert.IsDetailedProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, "payload_too_large");
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task ChunkedBodyOverTheConfiguredLimitIsRefusedWith413()
    {
        await using var app = await IngressApp.StartAsync(settings: new Dictionary<string, string?> { ["Ingress:MaxRequestBodyBytes"] = "2048" });
        using var client = app.CreateClient();
        var bytes = System.Text.Encoding.UTF8.GetBytes(SendBodies.Json(b => b["text"] = new string('x', 3000)).ToJsonString());
        using var content = new StreamContent(new MemoryStream(bytes));
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/v1/emails", UriKind.Relative)) { Content = content };
        request.Headers.TransferEncodingChunked = true;

        using var response = await client.SendAsync(request);

        await ProblemAssert.IsDetailedProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, "payload_too_large");
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task BodyUnderTheConfiguredLimitIsAccepted()
    {
        await using var app = await IngressApp.StartAsync(settings: new Dictionary<string, string?> { ["Ingress:MaxRequestBodyBytes"] = "2048" });

        using var response = await app.PostEmailAsync(SendBodies.Json().ToJsonString());

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }

    [Fact]
    public async Task MoreRecipientsThanTheConfiguredTotalAreRefused()
    {
        await using var app = await IngressApp.StartAsync(settings: new Dictionary<string, string?> { ["Ingress:MaxRecipients"] = "3" });
        var body = SendBodies.Json(b =>
        {
            b["to"] = new JsonArray("a@example.test", "b@example.test");
            b["cc"] = new JsonArray("c@example.test");
            b["bcc"] = new JsonArray("d@example.test");
        });

        using var response = await app.PostEmailAsync(body.ToJsonString());

        await ProblemAssert.IsValidationProblemAsync(response, "validation_error", "to");
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task MoreThanFiftyRecipientsInOneFieldAreRefused()
    {
        await using var app = await IngressApp.StartAsync(settings: new Dictionary<string, string?> { ["Ingress:MaxRecipients"] = "500" });
        var body = SendBodies.Json(b => b["cc"] = new JsonArray(Enumerable.Range(0, 51).Select(i => (JsonNode)$"r{i}@example.test").ToArray()));

        using var response = await app.PostEmailAsync(body.ToJsonString());

        await ProblemAssert.IsValidationProblemAsync(response, "validation_error", "cc");
    }

    [Theory]
    [InlineData("urgent")]
    [InlineData("HIGHEST")]
    [InlineData("3")]
    [InlineData("HIGH")]
    [InlineData("high, bulk")]
    [InlineData(" high")]
    public async Task UnknownPriorityIsRefused(string priority)
    {
        await using var app = await IngressApp.StartAsync();

        using var response = await app.PostEmailAsync(SendBodies.Json(b => b["priority"] = priority).ToJsonString());

        await ProblemAssert.IsDetailedProblemAsync(response, HttpStatusCode.BadRequest, "validation_error");
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    [Theory]
    [InlineData("high")]
    [InlineData("normal")]
    [InlineData("bulk")]
    public async Task KnownPriorityIsAcceptedAndCarried(string priority)
    {
        await using var app = await IngressApp.StartAsync();

        using var response = await app.PostEmailAsync(SendBodies.Json(b => b["priority"] = priority).ToJsonString());

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var id = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetGuid();
        Assert.Equal(priority, (await app.FindOutboxRowAsync(id))!.Command.Priority.ToString(), ignoreCase: true);
    }

    [Theory]
    [InlineData("2020-01-01T00:00:00Z")]
    [InlineData("yesterday")]
    [InlineData("2999-01-01T00:00:00Z")]
    public async Task PastUnparsableOrTooFarScheduledAtIsRefused(string scheduledAt)
    {
        await using var app = await IngressApp.StartAsync();

        using var response = await app.PostEmailAsync(SendBodies.Json(b => b["scheduled_at"] = scheduledAt).ToJsonString());

        await ProblemAssert.IsValidationProblemAsync(response, "validation_error", "scheduled_at");
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task FutureScheduledAtIsAcceptedAndTheSendWaitsForIt()
    {
        await using var app = await IngressApp.StartAsync();
        var at = DateTimeOffset.UtcNow.AddHours(1);

        using var response = await app.PostEmailAsync(SendBodies.Json(b => b["scheduled_at"] = at.ToString("O")).ToJsonString());

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var id = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetGuid();
        var row = await app.FindOutboxRowAsync(id);
        Assert.NotNull(row);
        Assert.Equal(at.UtcDateTime, row.AvailableAt, TimeSpan.FromMilliseconds(1));
        Assert.Equal(at.UtcDateTime, row.Accepted.ScheduledAt!.Value.UtcDateTime, TimeSpan.FromMilliseconds(1));
    }

    [Theory]
    [InlineData("to", "user@bücher.example")]
    [InlineData("to", "用户@example.test")]
    [InlineData("to", "Ünïcode Name <用户@bücher.example>")]
    [InlineData("from", "Bücher <verkauf@bücher.example>")]
    [InlineData("cc", "josé.garcía@correo.example")]
    public async Task InternationalizedAddressIsAccepted(string field, string address)
    {
        await using var app = await IngressApp.StartAsync();

        using var response = await app.PostEmailAsync(SendBodies.Json(b => b[field] = address).ToJsonString());

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, text);
        var id = JsonDocument.Parse(text).RootElement.GetProperty("id").GetGuid();
        var command = (await app.FindOutboxRowAsync(id))!.Command;
        var bare = address.Contains('<', StringComparison.Ordinal) ? address[(address.IndexOf('<', StringComparison.Ordinal) + 1)..^1] : address;
        Assert.Contains(bare, command.Envelope.RcptTo.Append(command.Envelope.MailFrom));
    }

    [Theory]
    [InlineData("用户@@example.test")]
    [InlineData("user@bü cher.example")]
    [InlineData("用户")]
    [InlineData("user@-bücher-.example")]
    [InlineData("us er@bücher.example")]
    [InlineData("user@bücher..example")]
    public async Task MalformedInternationalizedAddressIsRefused(string address)
    {
        await using var app = await IngressApp.StartAsync();

        using var response = await app.PostEmailAsync(SendBodies.Json(b => b["to"] = address).ToJsonString());

        await ProblemAssert.IsValidationProblemAsync(response, "validation_error", "to[0]");
        Assert.Equal(0, await app.CountOutboxAsync());
    }
}
