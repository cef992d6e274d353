using System.Diagnostics.CodeAnalysis;
using System.Net.Mime;
using System.Text.Json;
using System.Text.Json.Nodes;
using MassTransit;
using MassTransit.Serialization;

namespace EmailPlatform.ServiceDefaults.Messaging;

/// <summary>
/// What <see cref="JsonEnvelopeDeserializer"/> gives MassTransit for a received message: MassTransit's
/// <see cref="SystemTextJsonSerializerContext"/>, but holding the envelope's <c>message</c> as the slice of the body it
/// spans rather than as a <see cref="JsonElement"/> copied out of a parsed envelope. A consumer's message is deserialized
/// straight from that slice; the envelope's ids, addresses and headers come from MassTransit's own
/// <see cref="EnvelopeMessageContext"/>. Only when the message is sent on as it came (put back into its queue, redelivered,
/// scheduled) is it parsed into the <see cref="JsonElement"/> that MassTransit's forwarding serializer writes back.
/// Each method does what <see cref="SystemTextJsonSerializerContext"/>'s does (MassTransit 8.5), with the same options.
/// </summary>
internal sealed class JsonEnvelopeSerializerContext : BaseSerializerContext
{
    private readonly JsonMessageEnvelope _envelope;
    private readonly ReadOnlyMemory<byte> _message;
    private readonly ContentType _contentType;

    /// <param name="envelope">The envelope, its <see cref="JsonMessageEnvelope.Message"/> null until the message is sent on.</param>
    /// <param name="message">The envelope's <c>message</c>, a slice of the body.</param>
    /// <param name="contentType">The content type a message sent on as it came is written with.</param>
    public JsonEnvelopeSerializerContext(JsonMessageEnvelope envelope, ReadOnlyMemory<byte> message, ContentType contentType)
        : base(
            SystemTextJsonMessageSerializer.Instance,
            new EnvelopeMessageContext(envelope, SystemTextJsonMessageSerializer.Instance),
            envelope.MessageType ?? [])
    {
        _envelope = envelope;
        _message = message;
        _contentType = contentType;
    }

    /// <summary>Read on every use, as MassTransit's serializer reads it, should a host change them at start.</summary>
    private static JsonSerializerOptions Options => SystemTextJsonMessageSerializer.Options;

    public override bool TryGetMessage<T>([NotNullWhen(true)] out T? message)
        where T : class
    {
        if (typeof(T) == typeof(JsonObject))
        {
            message = JsonObject.Create(MessageElement()) as T;
            return message != null;
        }

        if (IsSupportedMessageType<T>())
        {
            message = JsonSerializer.Deserialize<T>(_message.Span, Options);
            return message != null;
        }

        message = null;
        return false;
    }

    public override bool TryGetMessage(Type messageType, [NotNullWhen(true)] out object? message)
    {
        message = JsonSerializer.Deserialize(_message.Span, messageType, Options);
        return message != null;
    }

    public override IMessageSerializer GetMessageSerializer()
    {
        _envelope.Message ??= MessageElement();
        return new SystemTextJsonBodyMessageSerializer(_envelope, _contentType, Options);
    }

    public override IMessageSerializer GetMessageSerializer<T>(MessageEnvelope envelope, T message)
    {
        var serializer = new SystemTextJsonBodyMessageSerializer(envelope, _contentType, Options);
        serializer.Overlay(message);
        return serializer;
    }

    public override IMessageSerializer GetMessageSerializer(object message, string[] messageTypes)
    {
        ArgumentNullException.ThrowIfNull(message);
        return new SystemTextJsonBodyMessageSerializer(new JsonMessageEnvelope(this, message, messageTypes), _contentType, Options, messageTypes);
    }

    public override Dictionary<string, object> ToDictionary<T>(T? message)
        where T : class =>
        message == null
            ? new Dictionary<string, object>(StringComparer.OrdinalIgnoreCase)
            : JsonSerializer.SerializeToElement(message, Options).Deserialize<Dictionary<string, object>>()!;

    /// <summary>The message as MassTransit's context holds it: an element of a document of its own.</summary>
    private JsonElement MessageElement() => JsonSerializer.Deserialize<JsonElement>(_message.Span, Options);
}
