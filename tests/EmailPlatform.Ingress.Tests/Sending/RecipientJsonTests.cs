using System.Text.Json;
using EmailPlatform.Ingress.Sending;
using EmailPlatform.ServiceDefaults.Json;

namespace EmailPlatform.Ingress.Tests.Sending;

/// <summary><c>to</c>, <c>cc</c>, <c>bcc</c> and <c>reply_to</c> take a string or an array of strings, as Resend's API does.</summary>
public sealed class RecipientJsonTests
{
    [Theory]
    [InlineData("""{"to": "a@x.test"}""")]
    [InlineData("""{"to": ["a@x.test"]}""")]
    public void ToAsStringOrArrayGivesOneRecipient(string json)
    {
        var request = JsonSerializer.Deserialize<SendEmailRequest>(json, WireJson.Options)!;

        Assert.Equal(["a@x.test"], request.To);
    }

    [Fact]
    public void ArrayKeepsEveryRecipientInOrder()
    {
        var request = JsonSerializer.Deserialize<SendEmailRequest>("""{"to": ["a@x.test", "b@x.test", "c@x.test"]}""", WireJson.Options)!;

        Assert.Equal(["a@x.test", "b@x.test", "c@x.test"], request.To);
    }

    [Fact]
    public void EveryRecipientFieldTakesTheSnakeCaseNameAndAString()
    {
        var request = JsonSerializer.Deserialize<SendEmailRequest>(
            """{"cc": "c@x.test", "bcc": ["d@x.test"], "reply_to": "r@x.test"}""", WireJson.Options)!;

        Assert.Equal(["c@x.test"], request.Cc);
        Assert.Equal(["d@x.test"], request.Bcc);
        Assert.Equal(["r@x.test"], request.ReplyTo);
    }

    [Fact]
    public void NullOrAbsentToIsNull()
    {
        Assert.Null(JsonSerializer.Deserialize<SendEmailRequest>("""{"to": null}""", WireJson.Options)!.To);
        Assert.Null(JsonSerializer.Deserialize<SendEmailRequest>("{}", WireJson.Options)!.To);
    }

    [Theory]
    [InlineData("""{"to": 5}""")]
    [InlineData("""{"to": true}""")]
    [InlineData("""{"to": {"email": "a@x.test"}}""")]
    [InlineData("""{"to": ["a@x.test", 5]}""")]
    [InlineData("""{"to": ["a@x.test", null]}""")]
    [InlineData("""{"to": [["a@x.test"]]}""")]
    public void ToOfAnotherTypeIsAJsonException(string json)
    {
        var exception = Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<SendEmailRequest>(json, WireJson.Options));

        Assert.StartsWith("$.to", exception.Path, StringComparison.Ordinal);
    }
}
