using System.Text.Json;
using System.Text.Json.Serialization;

namespace EmailPlatform.ServiceDefaults.Json;

/// <summary>
/// Reads an ISO 8601 time that has no offset (<c>"2026-11-01T00:00:00"</c>) as UTC, as the API's query parameters and
/// <c>scheduled_at</c> are read. System.Text.Json alone reads it in the server's local time zone, so the same request
/// would mean another instant on a laptop than in a container. A time with an offset or <c>Z</c> keeps it; writing is
/// the default ISO 8601 form.
/// </summary>
public sealed class UtcDateTimeOffsetConverter : JsonConverter<DateTimeOffset>
{
    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        // Both parse the same strict ISO 8601 forms; a DateTime without an offset is Unspecified.
        if (reader.TokenType != JsonTokenType.String || !reader.TryGetDateTime(out var time) || !reader.TryGetDateTimeOffset(out var withOffset))
        {
            throw new JsonException("Expected an ISO 8601 date and time, e.g. \"2026-11-01T09:30:00Z\".");
        }

        return time.Kind == DateTimeKind.Unspecified ? new DateTimeOffset(DateTime.SpecifyKind(time, DateTimeKind.Utc)) : withOffset;
    }

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) => writer.WriteStringValue(value);
}
