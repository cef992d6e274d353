using System.Runtime.Serialization;
using System.Text;
using System.Text.Json;
using MassTransit;
using MassTransit.Serialization;

namespace EmailPlatform.ServiceDefaults.Messaging;

/// <summary>
/// Reads MassTransit's JSON envelope from its bytes in one pass: every member but <c>message</c> into MassTransit's own
/// <see cref="JsonMessageEnvelope"/>, each deserialized as its property there is (same type, same options, so the
/// headers are the same dictionary of <see cref="JsonElement"/> values, the host the same <see cref="HostInfo"/>), and
/// <c>message</c> only located: the slice of the body it spans, wherever it stands in the envelope, for the message to be
/// deserialized from once, as the type a consumer asks for. Names match as <see cref="JsonSerializer"/> matches them
/// with MassTransit's options (camelCase, case-insensitive, the last of a repeated member wins, unknown members skipped),
/// and the same JSON is refused: comments and trailing commas are allowed, trailing content is not.
/// </summary>
internal static class JsonEnvelopeReader
{
    private enum Member
    {
        Unknown,
        MessageId,
        RequestId,
        CorrelationId,
        ConversationId,
        InitiatorId,
        SourceAddress,
        DestinationAddress,
        ResponseAddress,
        FaultAddress,
        MessageType,
        Message,
        ExpirationTime,
        SentTime,
        Headers,
        Host,
    }

    private static readonly (byte[] Utf8, string Name, Member Member)[] Members =
    [
        .. Enum.GetValues<Member>()
            .Where(m => m != Member.Unknown)
            .Select(m => (Name: JsonNamingPolicy.CamelCase.ConvertName(m.ToString()), Member: m))
            .Select(m => (Encoding.UTF8.GetBytes(m.Name), m.Name, m.Member)),
    ];

    /// <summary>
    /// The envelope, its <see cref="JsonMessageEnvelope.Message"/> left null, and the slice of <paramref name="body"/>
    /// that holds the message. Throws <see cref="JsonException"/> for JSON that MassTransit's deserializer refuses or an
    /// envelope without a message, and <see cref="SerializationException"/> for a body that is JSON <c>null</c>, as
    /// MassTransit's does ("Message envelope not found").
    /// </summary>
    public static (JsonMessageEnvelope Envelope, ReadOnlyMemory<byte> Message) Read(byte[] body, JsonSerializerOptions options)
    {
        var reader = new Utf8JsonReader(body, new JsonReaderOptions
        {
            AllowTrailingCommas = options.AllowTrailingCommas,
            CommentHandling = options.ReadCommentHandling,
            MaxDepth = options.MaxDepth,
        });
        if (!reader.Read())
        {
            throw new JsonException("The message body holds no JSON.");
        }

        if (reader.TokenType == JsonTokenType.Null)
        {
            EnsureEnd(ref reader);
            throw new SerializationException("Message envelope not found");
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException($"The message envelope is a JSON {reader.TokenType}, not an object.");
        }

        var envelope = new JsonMessageEnvelope();
        var message = ReadOnlyMemory<byte>.Empty;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var member = Match(ref reader);
            reader.Read();
            switch (member)
            {
                case Member.MessageId: envelope.MessageId = JsonSerializer.Deserialize<string>(ref reader, options); break;
                case Member.RequestId: envelope.RequestId = JsonSerializer.Deserialize<string>(ref reader, options); break;
                case Member.CorrelationId: envelope.CorrelationId = JsonSerializer.Deserialize<string>(ref reader, options); break;
                case Member.ConversationId: envelope.ConversationId = JsonSerializer.Deserialize<string>(ref reader, options); break;
                case Member.InitiatorId: envelope.InitiatorId = JsonSerializer.Deserialize<string>(ref reader, options); break;
                case Member.SourceAddress: envelope.SourceAddress = JsonSerializer.Deserialize<string>(ref reader, options); break;
                case Member.DestinationAddress: envelope.DestinationAddress = JsonSerializer.Deserialize<string>(ref reader, options); break;
                case Member.ResponseAddress: envelope.ResponseAddress = JsonSerializer.Deserialize<string>(ref reader, options); break;
                case Member.FaultAddress: envelope.FaultAddress = JsonSerializer.Deserialize<string>(ref reader, options); break;
                case Member.MessageType: envelope.MessageType = JsonSerializer.Deserialize<string[]>(ref reader, options); break;
                case Member.ExpirationTime: envelope.ExpirationTime = JsonSerializer.Deserialize<DateTime?>(ref reader, options); break;
                case Member.SentTime: envelope.SentTime = JsonSerializer.Deserialize<DateTime?>(ref reader, options); break;
                // Null as in MassTransit's envelope, whose getter then answers an empty dictionary.
                case Member.Headers: envelope.Headers = JsonSerializer.Deserialize<Dictionary<string, object?>>(ref reader, options)!; break;
                case Member.Host: envelope.Host = JsonSerializer.Deserialize<HostInfo>(ref reader, options); break;
                case Member.Message:
                    var start = (int)reader.TokenStartIndex;
                    reader.Skip();
                    message = reader.TokenType == JsonTokenType.Null
                        ? ReadOnlyMemory<byte>.Empty
                        : body.AsMemory(start, (int)reader.BytesConsumed - start);
                    break;
                default: reader.Skip(); break;
            }
        }

        EnsureEnd(ref reader);
        if (message.IsEmpty)
        {
            // Where MassTransit's serializer context refuses an envelope without one (an ArgumentNullException, wrapped
            // as this is in the same SerializationException).
            throw new JsonException("The message envelope has no message.");
        }

        return (envelope, message);
    }

    /// <summary>Nothing but whitespace (and comments, where allowed) after the envelope, as <see cref="JsonSerializer"/> requires.</summary>
    private static void EnsureEnd(ref Utf8JsonReader reader)
    {
        if (reader.Read())
        {
            throw new JsonException("The message body has more after the message envelope.");
        }
    }

    private static Member Match(ref Utf8JsonReader reader)
    {
        if (!reader.ValueIsEscaped && Ascii.IsValid(reader.ValueSpan))
        {
            foreach (var (utf8, _, member) in Members)
            {
                if (Ascii.EqualsIgnoreCase(reader.ValueSpan, utf8))
                {
                    return member;
                }
            }

            return Member.Unknown;
        }

        // An escaped or non-ASCII name: compared as JsonSerializer compares names when they are case-insensitive.
        var name = reader.GetString();
        foreach (var (_, candidate, member) in Members)
        {
            if (string.Equals(name, candidate, StringComparison.OrdinalIgnoreCase))
            {
                return member;
            }
        }

        return Member.Unknown;
    }
}
