using EmailPlatform.Testing;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using EmailPlatform.Ingress.Tests.Support;

namespace EmailPlatform.Ingress.Tests.Sending;

/// <summary>Every way a send can be wrong answers a problem detail and stores nothing.</summary>
public sealed class BadRequestTests
{
    [Fact]
    public async Task PostingEmailWithoutToReturnsMissingRequiredField()
    {
        await using var app = await IngressApp.StartAsync();

        using var response = await app.PostEmailAsync(SendBodies.Json(b => b.Remove("to")).ToJsonString());

        await ProblemAssert.IsValidationProblemAsync(response, "missing_required_field", "to");
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task PostingEmailWithInvalidFromReturnsInvalidFromAddress()
    {
        await using var app = await IngressApp.StartAsync();

        using var response = await app.PostEmailAsync(SendBodies.Json(b => b["from"] = "billing at acme").ToJsonString());

        await ProblemAssert.IsValidationProblemAsync(response, "invalid_from_address", "from");
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task PostingEmailWithCrlfInSubjectReturnsProblemDetails()
    {
        await using var app = await IngressApp.StartAsync();

        using var response = await app.PostEmailAsync(SendBodies.Json(b => b["subject"] = "Hi\r\nBcc: victim@example.test").ToJsonString());

        await ProblemAssert.IsValidationProblemAsync(response, "validation_error", "subject");
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task PostingEmailWithCrlfInCustomHeaderValueReturnsProblemDetails()
    {
        await using var app = await IngressApp.StartAsync();
        var json = SendBodies.Json(b => b["headers"] = new JsonObject { ["X-Note"] = "a\r\nBcc: victim@example.test" });

        using var response = await app.PostEmailAsync(json.ToJsonString());

        await ProblemAssert.IsValidationProblemAsync(response, "validation_error", "headers.X-Note");
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    [Theory]
    [InlineData("text", false)]
    [InlineData("html", false)]
    [InlineData("metadata", false)]
    [InlineData("text", true)]
    public async Task PostingNulInABodyOrAMetadataValueReturnsValidationErrorAndStoresNothing(string field, bool large)
    {
        // Large: the body goes to the content store instead of the outbox row; both used to fail in PostgreSQL (a 500,
        // or a 202 the status service then could not record).
        await using var app = await IngressApp.StartAsync();
        var body = SendBodies.Json(b =>
        {
            if (field == "metadata")
            {
                b["metadata"] = new JsonObject { ["order"] = "A-1\u0000" };
            }
            else
            {
                b[field] = "Hello\u0000world";
            }

            if (large)
            {
                b["attachments"] = new JsonArray(new JsonObject
                {
                    ["filename"] = "big.bin",
                    ["content"] = Convert.ToBase64String(new byte[300 * 1024]),
                });
            }
        });

        using var response = await app.PostEmailAsync(body.ToJsonString());

        await ProblemAssert.IsValidationProblemAsync(response, "validation_error", field == "metadata" ? "metadata.order" : field);
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    [Theory]
    [InlineData("value")]
    [InlineData("entries")]
    public async Task PostingMetadataTheStatusStoreCannotIndexReturnsValidationErrorAndStoresNothing(string what)
    {
        // The status service keeps each entry in an index, whose rows PostgreSQL caps at about 2,700 bytes: a 3,000-byte
        // value was accepted here and then failed at the status service on every delivery of the event.
        await using var app = await IngressApp.StartAsync();
        var metadata = what == "value"
            ? new JsonObject { ["note"] = new string('x', 3000) }
            : new JsonObject(Enumerable.Range(0, 51).Select(i => KeyValuePair.Create($"k{i}", (JsonNode?)"v")));

        using var response = await app.PostEmailAsync(SendBodies.Json(b => b["metadata"] = metadata).ToJsonString());

        await ProblemAssert.IsValidationProblemAsync(response, "validation_error", what == "value" ? "metadata.note" : "metadata");
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    [Theory]
    [InlineData("""{"from": "billing@acme.test", "to": """)]
    [InlineData("""{"from": 'billing@acme.test'}""")]
    [InlineData("not json at all")]
    [InlineData("")]
    [InlineData("null")]
    public async Task PostingMalformedJsonReturnsValidationError(string body)
    {
        await using var app = await IngressApp.StartAsync();

        using var response = await app.PostEmailAsync(body);

        await ProblemAssert.IsDetailedProblemAsync(response, HttpStatusCode.BadRequest, "validation_error");
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task PostingToOfTheWrongTypeReturnsValidationErrorNamingTheField()
    {
        await using var app = await IngressApp.StartAsync();

        using var response = await app.PostEmailAsync(SendBodies.Json(b => b["to"] = 5).ToJsonString());

        var problem = await ProblemAssert.IsValidationProblemAsync(response, "validation_error", "to");
        Assert.Contains("'to'", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task AFilenameOfTheWrongTypeIsNamedAndFalseIsRefusedAsAMissingFilename()
    {
        await using var app = await IngressApp.StartAsync();
        static JsonNode Attachment(JsonNode? filename) => SendBodies.Json(b => b["attachments"] = new JsonArray(
            new JsonObject { ["filename"] = filename, ["content"] = "aGk=", ["content_id"] = "logo" }));

        using var number = await app.PostEmailAsync(Attachment(5).ToJsonString());
        using var @false = await app.PostEmailAsync(Attachment(false).ToJsonString());

        await ProblemAssert.IsValidationProblemAsync(number, "validation_error", "attachments[0].filename");
        var problem = await ProblemAssert.IsProblemAsync(@false, HttpStatusCode.BadRequest, "invalid_attachment");
        Assert.True(problem.GetProperty("errors").TryGetProperty("attachments[0].filename", out _), problem.ToString());
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task PostingAJsonArrayInsteadOfAnObjectReturnsValidationErrorWithoutDotNetTypeNames()
    {
        await using var app = await IngressApp.StartAsync();

        using var response = await app.PostEmailAsync(new JsonArray(SendBodies.Json()).ToJsonString());

        var problem = await ProblemAssert.IsDetailedProblemAsync(response, HttpStatusCode.BadRequest, "validation_error");
        Assert.DoesNotContain("EmailPlatform", problem.GetRawText(), StringComparison.Ordinal);
        Assert.DoesNotContain("System.", problem.GetRawText(), StringComparison.Ordinal);
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task PostingPlainTextReturnsUnsupportedMediaType()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();
        using var content = new StringContent(SendBodies.Json().ToJsonString(), Encoding.UTF8, "text/plain");

        using var response = await client.PostAsync(new Uri("/v1/emails", UriKind.Relative), content);

        var problem = await ProblemAssert.IsDetailedProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "unsupported_media_type");
        Assert.Contains("application/json", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task PostingWithoutContentTypeReturnsUnsupportedMediaTypeSayingWhatToSend()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes(SendBodies.Json().ToJsonString()));

        using var response = await client.PostAsync(new Uri("/v1/emails", UriKind.Relative), content);

        var problem = await ProblemAssert.IsDetailedProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "unsupported_media_type");
        Assert.Contains("application/json", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task PostingBodyThatIsNotUtf8ReturnsValidationError()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();
        var bytes = Encoding.UTF8.GetBytes(SendBodies.Json().ToJsonString().Replace("Your receipt", "Your receipt \u0001", StringComparison.Ordinal));
        bytes[Array.IndexOf(bytes, (byte)1)] = 0xff;
        using var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");

        using var response = await client.PostAsync(new Uri("/v1/emails", UriKind.Relative), content);

        await ProblemAssert.IsDetailedProblemAsync(response, HttpStatusCode.BadRequest, "validation_error");
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task PostingAnAttachmentByPathReturnsInvalidAttachment()
    {
        await using var app = await IngressApp.StartAsync();
        var json = SendBodies.Json(b => b["attachments"] = new JsonArray(
            new JsonObject { ["filename"] = "invoice.pdf", ["path"] = "https://files.example.test/invoice.pdf" }));

        using var response = await app.PostEmailAsync(json.ToJsonString());

        await ProblemAssert.IsValidationProblemAsync(response, "invalid_attachment", "attachments[0].path");
        Assert.Equal(0, await app.CountOutboxAsync());
    }
}
