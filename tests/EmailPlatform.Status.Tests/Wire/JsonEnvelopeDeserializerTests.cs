using System.Runtime.Serialization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EmailPlatform.Contracts;
using EmailPlatform.ServiceDefaults.Messaging;
using MassTransit;
using MassTransit.Context;
using MassTransit.Events;
using MassTransit.Metadata;
using MassTransit.Serialization;

namespace EmailPlatform.Status.Tests.Wire;

/// <summary>
/// <see cref="JsonEnvelopeDeserializer"/> reads every message as MassTransit's own deserializer does: each contract
/// message, written by MassTransit's serializer with every envelope field and headers of each kind, is read by both and
/// compared (the envelope, the headers as values and as typed reads, the message as each of its types, what is sent on
/// when it is put back into its queue); bodies MassTransit refuses are refused alike.
/// </summary>
public sealed class JsonEnvelopeDeserializerTests
{
    private static readonly JsonSerializerOptions Options = SystemTextJsonMessageSerializer.Options;

    private static readonly SmtpReply Ok = new(250, "2.0.0", "Ok: queued as 4F2A1");

    private static readonly Dictionary<string, Action> Contracts = new()
    {
        [nameof(CancelEmail)] = () => AssertReadAlike(new CancelEmail(NewId.NextGuid(), NewId.NextGuid(), DateTimeOffset.UtcNow)),
        [nameof(EmailAccepted)] = () => AssertReadAlike(Accepted()),
        [nameof(EmailAccepted) + " (scheduled, bodies stored)"] = () => AssertReadAlike(Accepted() with
        {
            Html = null, Text = null, ScheduledAt = DateTimeOffset.UtcNow.AddDays(1), Queued = null, Recipients = null,
            StoredBody = new StoredContent(NewId.NextGuid(), 4_000_000),
        }),
        [nameof(EmailBounced)] = () => AssertReadAlike(new EmailBounced(NewId.NextGuid(), NewId.NextGuid(), "bob@example.com", "relay-a", 2,
            new SmtpReply(550, "5.1.1", "User unknown"), DateTimeOffset.UtcNow)),
        [nameof(EmailCanceled)] = () => AssertReadAlike(new EmailCanceled(NewId.NextGuid(), NewId.NextGuid(), DateTimeOffset.UtcNow)),
        [nameof(EmailDeferred)] = () => AssertReadAlike(new EmailDeferred(NewId.NextGuid(), NewId.NextGuid(), "bob@example.com", null, 1, null,
            "connection refused", DateTimeOffset.UtcNow.AddMinutes(5), DateTimeOffset.UtcNow)),
        [nameof(EmailDelivered)] = () => AssertReadAlike(new EmailDelivered(NewId.NextGuid(), NewId.NextGuid(), "alice@example.com", "relay-a", 1, Ok,
            new DateTimeOffset(2026, 3, 1, 12, 0, 0, 123, TimeSpan.FromHours(2)))),
        [nameof(EmailFailed)] = () => AssertReadAlike(new EmailFailed(NewId.NextGuid(), NewId.NextGuid(), "carol@example.com", "relay-b", 3,
            new SmtpReply(451, null, "try later"), "retry window expired", DateTimeOffset.UtcNow)),
        [nameof(EmailQueued)] = () => AssertReadAlike(new EmailQueued(NewId.NextGuid(), NewId.NextGuid(), DateTimeOffset.UtcNow)),
        [nameof(EmailRescheduled)] = () => AssertReadAlike(new EmailRescheduled(NewId.NextGuid(), NewId.NextGuid(), DateTimeOffset.UtcNow.AddHours(3), DateTimeOffset.UtcNow)),
        [nameof(EmailSuppressed)] = () => AssertReadAlike(new EmailSuppressed(NewId.NextGuid(), NewId.NextGuid(), "dave@example.com", "bounced", DateTimeOffset.UtcNow) { Attempt = 4 }),
        [nameof(RetryRecipients)] = () => AssertReadAlike(new RetryRecipients(NewId.NextGuid(), NewId.NextGuid(), ["a@example.com", "b@example.com"], DateTimeOffset.UtcNow)),
        [nameof(SendEmail)] = () => AssertReadAlike(Send()),
        [nameof(SendEmail) + " (raw)"] = () => AssertReadAlike(Send() with { RawMessage = Encoding.UTF8.GetBytes("Subject: hi\r\n\r\nbody\r\n"), ScheduledAt = DateTimeOffset.UtcNow }),
        ["Fault<SendEmail>"] = () => AssertReadAlike<Fault<SendEmail>>(new FaultEvent<SendEmail>(Send(), NewId.NextGuid(), HostMetadataCache.Host,
            new InvalidOperationException("The relay is gone."), MessageTypeCache<SendEmail>.MessageTypeNames)),
    };

    public static TheoryData<string> ContractNames => [.. Contracts.Keys];

    [Theory]
    [MemberData(nameof(ContractNames))]
    public void EveryContractMessageReadsAsWithMassTransitsOwnDeserializer(string contract) => Contracts[contract]();

    [Fact]
    public void EveryMessageTypeOfTheContractsIsCovered()
    {
        // The events (an event id each) and commands (a command id, or SendEmail) of the contracts.
        var messages = typeof(EmailAccepted).Assembly.GetExportedTypes()
            .Where(t => t.IsClass && (t.GetProperty("EventId") is not null || t.GetProperty("CommandId") is not null || t == typeof(SendEmail)))
            .Select(t => t.Name)
            .ToList();
        Assert.Equal(12, messages.Count);
        Assert.Empty(messages.Except(Contracts.Keys));
    }

    [Theory]
    [InlineData("first")]
    [InlineData("middle")]
    [InlineData("last")]
    public void TheMessageIsReadWhereverItStandsInTheEnvelope(string position)
    {
        var written = JsonNode.Parse(Write(Accepted()))!.AsObject();
        var message = written["message"]!.DeepClone();
        written.Remove("message");
        var members = written.Select(m => KeyValuePair.Create(m.Key, m.Value?.DeepClone())).ToList();
        var at = position switch { "first" => 0, "last" => members.Count, _ => members.Count / 2 };
        members.Insert(at, KeyValuePair.Create("message", (JsonNode?)message));
        // An unknown member holding a "message" of its own, which is not the envelope's.
        members.Insert(at == 0 ? 1 : at - 1, KeyValuePair.Create("extra", JsonNode.Parse("""{"message": {"subject": "not this one"}, "n": [1, 2]}""")));
        var body = Encoding.UTF8.GetBytes(new JsonObject(members).ToJsonString());

        var (theirs, ours) = (Theirs(body), Ours(body));

        AssertSameEnvelope(theirs, ours);
        Assert.True(ours.TryGetMessage<EmailAccepted>(out var accepted));
        Assert.Equal(message.ToJsonString(), JsonSerializer.SerializeToNode(accepted, Options)!.ToJsonString());
        Assert.Equal("Your receipt", accepted?.Subject);
    }

    [Theory]
    [InlineData("", "no JSON at all", true)]
    [InlineData("not json", "not JSON", true)]
    [InlineData("{\"messageType\": [\"urn:message:EmailPlatform.Contracts:EmailQueued\"], \"message\": {\"emailId\": ", "cut short", true)]
    [InlineData("null", "JSON null", true)]
    [InlineData("[]", "an array", false)]
    [InlineData("\"an envelope\"", "a string", false)]
    [InlineData("{\"messageType\": [\"urn:message:EmailPlatform.Contracts:EmailQueued\"]}", "no message", false)]
    [InlineData("{\"message\": null, \"messageType\": [\"urn:message:EmailPlatform.Contracts:EmailQueued\"]}", "a null message", false)]
    [InlineData("{\"messageId\": 5, \"message\": {}}", "a number for a message id", false)]
    [InlineData("{\"messageType\": \"urn:message:EmailPlatform.Contracts:EmailQueued\", \"message\": {}}", "one message type, not an array", false)]
    [InlineData("{\"headers\": [\"a\"], \"message\": {}}", "headers as an array", false)]
    [InlineData("{\"sentTime\": \"yesterday\", \"message\": {}}", "a time that is not one", false)]
    [InlineData("{\"message\": {}} {\"message\": {}}", "two envelopes", true)]
    [InlineData("{\"message\": {\"a\": 1}}}", "one brace too many", true)]
    public void AMalformedBodyIsRefusedWithASerializationExceptionAsMassTransitRefusesIt(string body, string what, bool sameCause)
    {
        var bytes = Encoding.UTF8.GetBytes(body);

        var theirs = Assert.Throws<SerializationException>(() => Theirs(bytes));
        var ours = Assert.Throws<SerializationException>(() => Ours(bytes));

        // What the error queue's MT-Fault-Message header says.
        // What the consumer's fault and the error queue's MT-Fault-Message header say.
        Assert.True(theirs.Message == ours.Message, $"{what}: '{theirs.Message}' from MassTransit, '{ours.Message}' here");
        // The error queue's MT-Fault-ExceptionType and MT-Fault-Message name the innermost exception: the JSON reader's
        // for a body that is not JSON, and "Message envelope not found" for null, alike. For other JSON that is no
        // envelope (a member of the wrong kind, no message), each deserializer says what is wrong in its own words.
        var (theirCause, ourCause) = (theirs.GetBaseException(), ours.GetBaseException());
        Assert.True(!sameCause || (theirCause.GetType(), theirCause.Message) == (ourCause.GetType(), ourCause.Message),
            $"{what}: '{theirCause}' from MassTransit, '{ourCause}' here");
    }

    [Theory]
    [InlineData("{/* a comment */ \"message\": {\"emailId\": \"9f5a3c1e-7d2b-4c1a-9e8f-1a2b3c4d5e6f\", \"eventId\": \"0e0c8a2e-5b7d-4f1a-8c3e-6d5f4a3b2c1d\",}, // trailing\n \"messageType\": [\"urn:message:EmailPlatform.Contracts:EmailQueued\",],}")]
    [InlineData("{\"MESSAGE\": {\"EmailId\": \"9f5a3c1e-7d2b-4c1a-9e8f-1a2b3c4d5e6f\"}, \"MessageType\": [\"urn:message:EmailPlatform.Contracts:EmailQueued\"], \"MessageId\": \"0e0c8a2e-5b7d-4f1a-8c3e-6d5f4a3b2c1d\"}")]
    [InlineData("{\"\\u006dessage\": {\"emailId\": \"9f5a3c1e-7d2b-4c1a-9e8f-1a2b3c4d5e6f\"}, \"\\u006dessageType\": [\"urn:message:EmailPlatform.Contracts:EmailQueued\"]}")]
    [InlineData("{\"message\": {\"emailId\": \"00000000-0000-0000-0000-000000000001\"}, \"message\": {\"emailId\": \"9f5a3c1e-7d2b-4c1a-9e8f-1a2b3c4d5e6f\"}, \"messageType\": [\"urn:message:EmailPlatform.Contracts:EmailQueued\"]}")]
    [InlineData("{\"message\": {\"emailId\": \"9f5a3c1e-7d2b-4c1a-9e8f-1a2b3c4d5e6f\"}, \"messageType\": [\"urn:message:EmailPlatform.Contracts:EmailQueued\"], \"messageId\": \"not a guid\", \"headers\": null, \"host\": null}")]
    [InlineData("\uFEFF{\"message\": {\"emailId\": \"9f5a3c1e-7d2b-4c1a-9e8f-1a2b3c4d5e6f\"}, \"messageType\": [\"urn:message:EmailPlatform.Contracts:EmailQueued\"]}")]
    [InlineData("{\"message\": {\"emailId\": \"9f5a3c1e-7d2b-4c1a-9e8f-1a2b3c4d5e6f\"}, \"messageType\": [\"urn:message:EmailPlatform.Contracts:EmailCanceled\"]}")]
    public void AnUnusualEnvelopeReadsAsWithMassTransitsOwnDeserializer(string body)
    {
        var bytes = Encoding.UTF8.GetBytes(body);

        Assert.Equal(Outcome(() => Theirs(bytes)), Outcome(() => Ours(bytes)));
        if (Outcome(() => Theirs(bytes)) == "ok")
        {
            AssertSameEnvelope(Theirs(bytes), Ours(bytes));
            Assert.Equal(Read<EmailQueued>(Theirs(bytes)), Read<EmailQueued>(Ours(bytes)));
        }
    }

    /// <summary>Writes <paramref name="message"/> as MassTransit's serializer does, with every envelope field and headers of each kind.</summary>
    private static byte[] Write<T>(T message)
        where T : class
    {
        SendContext<T> context = new MessageSendContext<T>(message);
        context.RequestId = NewId.NextGuid();
        context.CorrelationId = NewId.NextGuid();
        context.ConversationId = NewId.NextGuid();
        context.InitiatorId = NewId.NextGuid();
        context.SourceAddress = new Uri("rabbitmq://rabbitmq/ingress/bus-abc?temporary=true");
        context.DestinationAddress = new Uri("rabbitmq://rabbitmq/EmailPlatform.Contracts:EmailAccepted");
        context.ResponseAddress = new Uri("rabbitmq://rabbitmq/response");
        context.FaultAddress = new Uri("queue:status-faults");
        context.TimeToLive = TimeSpan.FromHours(1);
        context.Headers.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        context.Headers.Set("MT-Redelivery-Count", 2);
        context.Headers.Set("x-flag", true);
        context.Headers.Set("x-ratio", 0.25);
        context.Headers.Set("x-big", long.MaxValue);
        context.Headers.Set("x-id", Guid.NewGuid());
        context.Headers.Set("x-at", DateTimeOffset.UtcNow);
        context.Headers.Set("x-uri", new Uri("https://example.com/a?b=c"));
        context.Headers.Set("x-list", new[] { "a", "b" });
        context.Headers.Set("x-object", new { Name = "n", Count = 3, Nested = new { Deep = true } });
        context.Headers.Set("X-Mixed-Case", "é ü 漢字 <tag> & \"quoted\"");
        return SystemTextJsonMessageSerializer.Instance.GetMessageBody(context).GetBytes();
    }

    private static void AssertReadAlike<T>(T message)
        where T : class
    {
        var body = Write(message);
        var (theirs, ours) = (Theirs(body), Ours(body));

        AssertSameEnvelope(theirs, ours);
        Assert.Equal(Json(message), Read<T>(ours));
        Assert.Equal(Read<T>(theirs), Read<T>(ours));
        Assert.Equal(Read<JsonObject>(theirs), Read<JsonObject>(ours));
        foreach (var type in MessageTypeCache.GetMessageTypes(typeof(T)))
        {
            Assert.Equal(Outcome(() => theirs.TryGetMessage(type, out var m) ? Json(m) : "none"), Outcome(() => ours.TryGetMessage(type, out var m) ? Json(m) : "none"));
        }

        Assert.Equal(Outcome(() => theirs.ToDictionary(message)), Outcome(() => ours.ToDictionary(message)));
        // What StoreOutagePutBack (MassTransit's ForwardMessagePipe) writes to put the message back into its queue.
        var id = NewId.NextGuid();
        Assert.Equal(Forwarded(theirs, message, id), Forwarded(ours, message, id));
    }

    private static void AssertSameEnvelope(SerializerContext theirs, SerializerContext ours)
    {
        Assert.Equal(Outcome(() => theirs.MessageId), Outcome(() => ours.MessageId));
        Assert.Equal(
            (theirs.RequestId, theirs.CorrelationId, theirs.ConversationId, theirs.InitiatorId, theirs.ExpirationTime, theirs.SentTime),
            (ours.RequestId, ours.CorrelationId, ours.ConversationId, ours.InitiatorId, ours.ExpirationTime, ours.SentTime));
        Assert.Equal(
            (theirs.SourceAddress, theirs.DestinationAddress, theirs.ResponseAddress, theirs.FaultAddress),
            (ours.SourceAddress, ours.DestinationAddress, ours.ResponseAddress, ours.FaultAddress));
        Assert.Equal(theirs.SupportedMessageTypes, ours.SupportedMessageTypes);
        Assert.Equal(Json(theirs.Host), Json(ours.Host));
        Assert.Equal(theirs.Host.GetType(), ours.Host.GetType());
        Assert.Equal(theirs.Headers.GetAll().Select(h => (h.Key, Json(h.Value))), ours.Headers.GetAll().Select(h => (h.Key, Json(h.Value))));
        foreach (var key in theirs.Headers.GetAll().Select(h => h.Key).Append("missing"))
        {
            Assert.Equal(Outcome(() => theirs.Headers.Get<string>(key)), Outcome(() => ours.Headers.Get<string>(key)));
            Assert.Equal(Outcome(() => theirs.Headers.Get<int>(key)), Outcome(() => ours.Headers.Get<int>(key)));
            Assert.Equal(Outcome(() => theirs.Headers.Get<long>(key)), Outcome(() => ours.Headers.Get<long>(key)));
            Assert.Equal(Outcome(() => theirs.Headers.Get<bool>(key)), Outcome(() => ours.Headers.Get<bool>(key)));
            Assert.Equal(Outcome(() => theirs.Headers.Get<Guid>(key)), Outcome(() => ours.Headers.Get<Guid>(key)));
            Assert.Equal(Outcome(() => theirs.Headers.Get<DateTimeOffset>(key)), Outcome(() => ours.Headers.Get<DateTimeOffset>(key)));
            Assert.Equal(Outcome(() => theirs.Headers.Get<Uri>(key)), Outcome(() => ours.Headers.Get<Uri>(key)));
            Assert.Equal(Outcome(() => theirs.Headers.Get<string[]>(key)), Outcome(() => ours.Headers.Get<string[]>(key)));
            Assert.Equal(Outcome(() => theirs.Headers.TryGetHeader(key, out var v) ? $"{v.GetType()} {Json(v)}" : "none"), Outcome(() => ours.Headers.TryGetHeader(key, out var v) ? $"{v.GetType()} {Json(v)}" : "none"));
        }
    }

    private static string Forwarded<T>(SerializerContext context, T message, Guid messageId)
        where T : class
    {
        SendContext<T> send = new MessageSendContext<T>(message);
        send.MessageId = messageId;
        send.DestinationAddress = new Uri("exchange:status-email-accepted");
        return context.GetMessageSerializer().GetMessageBody(send).GetString();
    }

    private static SerializerContext Theirs(byte[] body) => SystemTextJsonMessageSerializer.Instance.Deserialize(new MemoryMessageBody(body), EmptyHeaders.Instance);

    private static SerializerContext Ours(byte[] body) => JsonEnvelopeDeserializer.Instance.Deserialize(new MemoryMessageBody(body), EmptyHeaders.Instance);

    private static string Read<T>(SerializerContext context)
        where T : class =>
        Outcome(() => context.TryGetMessage<T>(out var message) ? Json(message) : "none");

    private static string Json(object? value) => value is null ? "null" : JsonSerializer.Serialize(value, value.GetType(), Options);

    /// <summary>The value as text, or the exception it threw (its type and message): the two deserializers must agree on either.</summary>
    private static string Outcome<T>(Func<T> read)
    {
        try
        {
            return read() switch
            {
                SerializerContext => "ok",
                string text => text,
                var value => Json(value),
            };
        }
        catch (Exception exception)
        {
            return $"{exception.GetType().FullName}: {exception.Message}";
        }
    }

    private static EmailAccepted Accepted()
    {
        var emailId = NewId.NextGuid();
        return new EmailAccepted(NewId.NextGuid(), emailId, $"<{emailId:N}@emailplatform.test>", "Acme <noreply@acme.test>",
            ["alice@example.com", "Bob <bob@example.com>"], ["carol@example.com"], [], ["support@acme.test"], "Your receipt",
            "<html><body><p>Thanks for your order \u2014 \"quoted\" & <b>bold</b> \u00e9\u6f22\U0001F600</p>\n\t" + new string('x', 30_000) + "</body></html>",
            "Thanks for your order.\r\n" + new string('y', 15_000), ["receipt.pdf"], [new EmailTag("category", "receipt")],
            new Dictionary<string, string> { ["order_id"] = "A-1001", ["Mixed"] = "Case" }, EmailPriority.High,
            DateTimeOffset.UtcNow.AddSeconds(-5), null, new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.FromHours(-5)))
        {
            Recipients = ["alice@example.com", "bob@example.com", "carol@example.com", "hidden@example.com"],
            Queued = new EmailQueued(NewId.NextGuid(), emailId, DateTimeOffset.UtcNow),
        };
    }

    private static SendEmail Send()
    {
        var emailId = NewId.NextGuid();
        return new SendEmail(emailId, $"<{emailId:N}@emailplatform.test>", new Envelope("bounces@acme.test", ["alice@example.com"]),
            "Acme <noreply@acme.test>", ["alice@example.com"], [], [], "Your receipt", "<p>Hi</p>", "Hi",
            new Dictionary<string, string> { ["X-Campaign"] = "spring" },
            [new EmailAttachment("receipt.pdf", "application/pdf", null, [0x25, 0x50, 0x44, 0x46, 0x00, 0xFF]), new EmailAttachment("logo.png", "image/png", "logo", [1, 2, 3])],
            [new EmailTag("category", "receipt")], new Dictionary<string, string> { ["order_id"] = "A-1001" }, EmailPriority.Bulk, DateTimeOffset.UtcNow)
        {
            ExpiresAt = DateTimeOffset.UtcNow.AddDays(2),
            StoredContent = new StoredContent(NewId.NextGuid(), 12_345),
        };
    }
}
