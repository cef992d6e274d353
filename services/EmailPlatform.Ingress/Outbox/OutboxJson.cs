using System.Text.Json;

namespace EmailPlatform.Ingress.Outbox;

/// <summary>How commands are stored in the outbox: the bus's own JSON shape, independent of the public API's.</summary>
internal static class OutboxJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.General);
}
