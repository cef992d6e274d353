using System.Net.Mime;
using MassTransit;
using MassTransit.Serialization;

namespace EmailPlatform.ServiceDefaults.Messaging;

/// <summary>
/// Puts <see cref="JsonEnvelopeDeserializer"/> in the place of MassTransit's deserializer for
/// <c>application/vnd.masstransit+json</c> (<c>AddDeserializer(factory, isDefault: true)</c> replaces the one registered
/// for the same content type). Messages are still written by MassTransit's own serializer, so the wire format does not
/// change and a service with this deserializer and one without read each other's messages.
/// </summary>
public sealed class JsonEnvelopeDeserializerFactory : ISerializerFactory
{
    public ContentType ContentType => SystemTextJsonMessageSerializer.JsonContentType;

    public IMessageSerializer CreateSerializer() => SystemTextJsonMessageSerializer.Instance;

    public IMessageDeserializer CreateDeserializer() => JsonEnvelopeDeserializer.Instance;
}
