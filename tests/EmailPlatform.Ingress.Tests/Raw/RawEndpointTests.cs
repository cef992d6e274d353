using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EmailPlatform.Ingress.Tests.Support;
using EmailPlatform.Testing;
using MimeKit;

namespace EmailPlatform.Ingress.Tests.Raw;

/// <summary><c>POST /v1/emails/raw</c>: a client's own MIME, sent as it is with its envelope.</summary>
public sealed class RawEndpointTests
{
    [Fact]
    public async Task RawMessageIsStoredWithTheClientsMessageIdAndWithoutItsBccHeader()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();
        var message = Message();
        message.MessageId = "client-chosen-1@acme.test";
        message.Bcc.Add(MailboxAddress.Parse("hidden@example.test"));

        using var response = await IngressApp.PostJsonAsync(client, "/v1/emails/raw", Body(message, "bounces@acme.test", "alice@example.test", "hidden@example.test"));

        var id = await IdAsync(response);
        var row = await app.FindOutboxRowAsync(id);
        Assert.NotNull(row);
        var command = row.Command;
        Assert.Equal("client-chosen-1@acme.test", command.MessageId);
        Assert.Equal("bounces@acme.test", command.Envelope.MailFrom);
        Assert.Equal(["alice@example.test", "hidden@example.test"], command.Envelope.RcptTo);
        Assert.NotNull(command.RawMessage);
        var stored = MimeMessage.Load(new MemoryStream(command.RawMessage));
        Assert.Equal("client-chosen-1@acme.test", stored.MessageId);
        Assert.Null(stored.Headers[HeaderId.Bcc]);
        Assert.DoesNotContain("hidden@example.test", Encoding.UTF8.GetString(command.RawMessage), StringComparison.OrdinalIgnoreCase);
        Assert.Equal("Hello from raw.", stored.TextBody?.Trim());
        Assert.Equal(["hidden@example.test"], row.Bcc);
        Assert.Equal("Raw subject", row.Accepted.Subject);
    }

    [Fact]
    public async Task RawMessageWithoutMessageIdGetsOneFixedAtAccept()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();
        var message = Message();
        message.Headers.Remove(HeaderId.MessageId);

        using var response = await IngressApp.PostJsonAsync(client, "/v1/emails/raw", Body(message, "billing@acme.test", "alice@example.test"));

        var id = await IdAsync(response);
        var command = (await app.FindOutboxRowAsync(id))!.Command;
        Assert.Equal($"{id:N}@acme.test", command.MessageId);
        Assert.Equal(command.MessageId, MimeMessage.Load(new MemoryStream(command.RawMessage!)).MessageId);
    }

    [Theory]
    [InlineData("raw", "not base64 at all!", "validation_error")]
    [InlineData("raw", "", "missing_required_field")]
    [InlineData("mail_from", "bounces@acme.test\r\nRCPT TO:<x@evil.test>", "validation_error")]
    [InlineData("mail_from", "bounces@acme.test\u0000", "validation_error")]
    [InlineData("mail_from", "not an address", "validation_error")]
    [InlineData("rcpt_to[0]", "alice@example.test\r\nDATA", "validation_error")]
    // Over RFC 5321's 64-byte local part: a relay would refuse it, and the status service keeps a sender in 320 characters.
    [InlineData("mail_from", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@acme.test", "validation_error")]
    [InlineData("rcpt_to[0]", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.test", "validation_error")]
    public async Task InvalidRawRequestIsRefusedAndNothingIsStored(string field, string value, string name)
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();
        var body = JsonNode.Parse(Body(Message(), "billing@acme.test", "alice@example.test"))!.AsObject();
        if (field == "rcpt_to[0]")
        {
            body["rcpt_to"] = new JsonArray(value);
        }
        else
        {
            body[field] = value;
        }

        using var response = await IngressApp.PostJsonAsync(client, "/v1/emails/raw", body.ToJsonString());

        await ProblemAssert.IsValidationProblemAsync(response, name, field);
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    [Theory]
    [InlineData("This is just some text, not a message.")]
    [InlineData("Subject: no sender\r\n\r\nbody")]
    [InlineData("From: \r\nTo: alice@example.test\r\n\r\nbody")]
    // A lone CR, a form feed, NEL or NUL in a header: the message goes out as its raw bytes, so they would reach the relay.
    [InlineData("From: billing@acme.test\r\nSubject: hi\rBcc: victim@example.test\r\nTo: alice@example.test\r\n\r\nbody")]
    [InlineData("From: billing@acme.test\r\nSubject: hi\fthere\r\nTo: alice@example.test\r\n\r\nbody")]
    [InlineData("From: billing@acme.test\r\nSubject: hi\u0085there\r\nTo: alice@example.test\r\n\r\nbody")]
    [InlineData("From: billing@acme.test\r\nSubject: hi\u0000there\r\nTo: alice@example.test\r\n\r\nbody")]
    // A lone CR or a control byte outside a header value: in a line without a colon, or in a field name, which MimeKit
    // keeps as a header with an empty value; receivers that break lines at CR would see a From or Bcc of its own.
    [InlineData("From: billing@acme.test\r\nX-Junk\rFrom: ceo@evil.test\r\nTo: alice@example.test\r\n\r\nbody")]
    [InlineData("From: billing@acme.test\r\nX-J\rBcc: victim@example.test\r\nTo: alice@example.test\r\n\r\nbody")]
    [InlineData("From: billing@acme.test\r\nX-Junk\u0001\r\nTo: alice@example.test\r\n\r\nbody")]
    [InlineData("From: billing@acme.test\r\nX-J\u0085nk: value\r\nTo: alice@example.test\r\n\r\nbody")]
    // An address over RFC 5321's length limits in a header.
    [InlineData("From: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@acme.test\r\nTo: alice@example.test\r\n\r\nbody")]
    [InlineData("From: billing@acme.test\r\nTo: alice@example.test, aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.test\r\n\r\nbody")]
    // A sender header that does not parse could not be checked against a key's sender domains.
    [InlineData("From: billing@acme.test\r\nSender: <<not an address\r\nTo: alice@example.test\r\n\r\nbody")]
    public async Task RawBytesThatAreNotACleanMessageWithAFromAreRefused(string raw)
    {
        await using var app = await IngressApp.StartAsync();

        using var response = await PostRawAsync(app, raw);

        await ProblemAssert.IsValidationProblemAsync(response, "validation_error", "raw");
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task HeaderMailboxWithoutADomainIsTheClientsBusinessNotA500()
    {
        await using var app = await IngressApp.StartAsync();

        // MimeKit reads 'alice' as a mailbox without a domain; the envelope decides who gets the message.
        using var response = await PostRawAsync(app, "From: billing@acme.test\r\nTo: alice\r\n\r\nbody");

        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("From: billing@acme.test\r\nSubject: a long\r\n\tfolded subject\r\nTo: alice@example.test\r\n\r\nbody")]
    [InlineData("From: billing@acme.test\nSubject: unix line\n endings, folded\nTo: alice@example.test\n\nbody")]
    public async Task RawHeadersFoldedWithCrlfOrUnixLineEndingsAreAccepted(string raw)
    {
        await using var app = await IngressApp.StartAsync();

        using var response = await PostRawAsync(app, raw);

        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task RawMessageWithoutEnvelopeIsRefused()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();
        var body = new JsonObject { ["raw"] = Convert.ToBase64String(Bytes(Message())) };

        using var response = await IngressApp.PostJsonAsync(client, "/v1/emails/raw", body.ToJsonString());

        var problem = await ProblemAssert.IsValidationProblemAsync(response, "missing_required_field", "mail_from");
        Assert.True(problem.GetProperty("errors").TryGetProperty("rcpt_to", out _));
    }

    [Fact]
    public async Task RawEnvelopeTakesUpToTheTotalRecipientLimit()
    {
        await using var app = await IngressApp.StartAsync(settings: new Dictionary<string, string?> { ["Ingress:MaxRecipients"] = "60" });
        using var client = app.CreateClient();
        var sixty = Enumerable.Range(0, 60).Select(i => $"r{i}@example.test").ToArray();

        using var accepted = await IngressApp.PostJsonAsync(client, "/v1/emails/raw", Body(Message(), "billing@acme.test", sixty));
        using var refused = await IngressApp.PostJsonAsync(client, "/v1/emails/raw", Body(Message(), "billing@acme.test", [.. sixty, "one-more@example.test"]));

        var id = await IdAsync(accepted);
        Assert.Equal(60, (await app.FindOutboxRowAsync(id))!.Command.Envelope.RcptTo.Count);
        await ProblemAssert.IsValidationProblemAsync(refused, "validation_error", "rcpt_to");
        Assert.Equal(1, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task RawSendFromOutsideTheKeysSenderDomainsIsForbidden()
    {
        await using var app = await IngressApp.StartAsync();
        var (token, _) = await app.CreateApiKeyAsync(new { name = "acme", scopes = new[] { "send" }, allowed_sender_domains = new[] { "acme.test" } });
        using var client = app.CreateClient(token);
        var spoofed = Message();
        spoofed.From.Clear();
        spoofed.From.Add(MailboxAddress.Parse("ceo@other.test"));

        var secondFrom = Message();
        secondFrom.From.Add(MailboxAddress.Parse("ceo@other.test"));
        var sender = Message();
        sender.Sender = MailboxAddress.Parse("ceo@other.test");

        using var headerFrom = await IngressApp.PostJsonAsync(client, "/v1/emails/raw", Body(spoofed, "bounces@acme.test", "alice@example.test"));
        using var envelopeFrom = await IngressApp.PostJsonAsync(client, "/v1/emails/raw", Body(Message(), "bounces@other.test", "alice@example.test"));
        using var anotherFrom = await IngressApp.PostJsonAsync(client, "/v1/emails/raw", Body(secondFrom, "bounces@acme.test", "alice@example.test"));
        using var senderHeader = await IngressApp.PostJsonAsync(client, "/v1/emails/raw", Body(sender, "bounces@acme.test", "alice@example.test"));

        await ProblemAssert.IsDetailedProblemAsync(headerFrom, HttpStatusCode.Forbidden, "restricted_api_key");
        await ProblemAssert.IsDetailedProblemAsync(envelopeFrom, HttpStatusCode.Forbidden, "restricted_api_key");
        await ProblemAssert.IsDetailedProblemAsync(anotherFrom, HttpStatusCode.Forbidden, "restricted_api_key");
        await ProblemAssert.IsDetailedProblemAsync(senderHeader, HttpStatusCode.Forbidden, "restricted_api_key");
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    [Theory]
    [InlineData("Sender")]
    [InlineData("Resent-From")]
    [InlineData("Resent-Sender")]
    public async Task RawSendWithASecondSenderOrResentHeaderOutsideTheKeysDomainsIsForbidden(string field)
    {
        // MimeKit's message.Sender is only the first Sender header; receivers may show any of them.
        await using var app = await IngressApp.StartAsync();
        var (token, _) = await app.CreateApiKeyAsync(new { name = "acme", scopes = new[] { "send" }, allowed_sender_domains = new[] { "acme.test" } });
        using var client = app.CreateClient(token);
        var message = Message();
        message.Headers.Add(field, "ops@acme.test");
        message.Headers.Add(field, "ceo@other.test");

        using var response = await IngressApp.PostJsonAsync(client, "/v1/emails/raw", Body(message, "bounces@acme.test", "alice@example.test"));

        await ProblemAssert.IsDetailedProblemAsync(response, HttpStatusCode.Forbidden, "restricted_api_key");
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    internal static MimeMessage Message()
    {
        var message = new MimeMessage();
        message.From.Add(new MailboxAddress("Acme Billing", "billing@acme.test"));
        message.To.Add(MailboxAddress.Parse("alice@example.test"));
        message.Subject = "Raw subject";
        message.MessageId = MimeKit.Utils.MimeUtils.GenerateMessageId("acme.test");
        message.Body = new TextPart("plain") { Text = "Hello from raw." };
        return message;
    }

    internal static byte[] Bytes(MimeMessage message)
    {
        using var stream = new MemoryStream();
        message.WriteTo(stream);
        return stream.ToArray();
    }

    /// <summary>Posts <paramref name="raw"/> as it is (its bytes in UTF-8), from billing@acme.test to alice@example.test.</summary>
    private static async Task<HttpResponseMessage> PostRawAsync(IngressApp app, string raw)
    {
        using var client = app.CreateClient();
        var body = new JsonObject
        {
            ["raw"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(raw)),
            ["mail_from"] = "billing@acme.test",
            ["rcpt_to"] = new JsonArray("alice@example.test"),
        };
        return await IngressApp.PostJsonAsync(client, "/v1/emails/raw", body.ToJsonString());
    }

    internal static string Body(MimeMessage message, string mailFrom, params string[] rcptTo) => new JsonObject
    {
        ["raw"] = Convert.ToBase64String(Bytes(message)),
        ["mail_from"] = mailFrom,
        ["rcpt_to"] = new JsonArray(rcptTo.Select(r => (JsonNode)r).ToArray()),
    }.ToJsonString();

    private static async Task<Guid> IdAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"{(int)response.StatusCode}: {text}");
        using var json = JsonDocument.Parse(text);
        return json.RootElement.GetProperty("id").GetGuid();
    }
}
