using System.Text.Json;
using System.Text.Json.Serialization;

namespace EmailPlatform.Ingress.Sending;

/// <summary>Reads <c>"a@x.com"</c> and <c>["a@x.com", "b@x.com"]</c> alike, as Resend's API accepts both.</summary>
internal sealed class StringOrArrayConverter : JsonConverter<IReadOnlyList<string>>
{
    public const string Expectation = "Expected a string or an array of strings.";

    public override IReadOnlyList<string>? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.String:
                return [reader.GetString()!];
            case JsonTokenType.StartArray:
                var values = new List<string>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (reader.TokenType != JsonTokenType.String)
                    {
                        throw new JsonException(Expectation);
                    }

                    values.Add(reader.GetString()!);
                }

                return values;
            default:
                throw new JsonException(Expectation);
        }
    }

    public override void Write(Utf8JsonWriter writer, IReadOnlyList<string> value, JsonSerializerOptions options) =>
        JsonSerializer.Serialize(writer, value, options);
}
