using System.Net.Mime;
using System.Runtime.Serialization;
using MassTransit;
using MassTransit.Serialization;

namespace EmailPlatform.ServiceDefaults.Messaging;

/// <summary>
/// Reads MassTransit's JSON envelope (<c>application/vnd.masstransit+json</c>, as MassTransit's own serializer writes it)
/// handling the body's bytes once. MassTransit's <see cref="SystemTextJsonMessageSerializer"/> parses the whole envelope
/// into a <c>JsonDocument</c>, copies its <c>message</c> member into a second one, and deserializes the message from
/// that: with the bodies of an accepted email on the bus (tens of KB) those copies were a third of the status service's
/// allocations. Here <see cref="JsonEnvelopeReader"/> reads the envelope's other members once and keeps
/// <c>message</c> as a slice of the body, and <see cref="JsonEnvelopeSerializerContext"/> deserializes the message from
/// that slice when a consumer asks for it. Everything else (the envelope's ids, addresses, headers and host, faults,
/// the error queue, forwarding a message back to its queue) is MassTransit's own, with
/// <see cref="SystemTextJsonMessageSerializer.Options"/>, so a message reads exactly as it would without this type.
/// </summary>
public sealed class JsonEnvelopeDeserializer : IMessageDeserializer
{
    public static readonly JsonEnvelopeDeserializer Instance = new();

    private JsonEnvelopeDeserializer()
    {
    }

    public ContentType ContentType => SystemTextJsonMessageSerializer.JsonContentType;

    public void Probe(ProbeContext context)
    {
        var scope = context.CreateScope("json");
        scope.Add("contentType", ContentType.MediaType);
        scope.Add("provider", "System.Text.Json");
        scope.Add("envelope", "read once, the message deserialized from its slice of the body");
    }

    public ConsumeContext Deserialize(ReceiveContext receiveContext) =>
        new BodyConsumeContext(receiveContext, Deserialize(receiveContext.Body, receiveContext.TransportHeaders, receiveContext.InputAddress));

    public SerializerContext Deserialize(MessageBody body, Headers headers, Uri? destinationAddress = null)
    {
        if (body is JsonMessageBody)
        {
            // A transport that hands over a parsed document (none that this platform uses): MassTransit's own path.
            return SystemTextJsonMessageSerializer.Instance.Deserialize(body, headers, destinationAddress);
        }

        try
        {
            // The array MassTransit makes of a RabbitMQ delivery once and keeps on the receive context: the error
            // queue gets the same bytes, and the message slice stays valid for as long as the consume context lives.
            var (envelope, message) = JsonEnvelopeReader.Read(body.GetBytes(), SystemTextJsonMessageSerializer.Options);
            return new JsonEnvelopeSerializerContext(envelope, message, ContentType);
        }
        catch (SerializationException)
        {
            throw;
        }
        catch (Exception exception)
        {
            // MassTransit's words for it, so that the error queue's MT-Fault-Message reads as before.
            throw new SerializationException("An error occured while deserializing the message envelope", exception);
        }
    }

    public MessageBody GetMessageBody(string text) => new StringMessageBody(text);
}
