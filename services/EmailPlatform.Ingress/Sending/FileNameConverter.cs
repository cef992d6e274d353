using System.Text.Json;
using System.Text.Json.Serialization;

namespace EmailPlatform.Ingress.Sending;

/// <summary>
/// Reads an attachment's <c>filename</c>: a string, or <c>false</c> or <c>null</c> for none. Resend's Node SDK types the
/// field <c>string | false</c> and sends <c>false</c> as it is given: it is refused as a missing filename
/// (<see cref="AttachmentReader"/>), not as a value of the wrong type.
/// </summary>
internal sealed class FileNameConverter : JsonConverter<string>
{
    public const string Expectation = "Expected a file name (a string), or false or null for none.";

    public override bool HandleNull => true;

    public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.String => reader.GetString(),
        JsonTokenType.False or JsonTokenType.Null => null,
        _ => throw new JsonException(Expectation),
    };

    public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WriteStringValue(value);
}
