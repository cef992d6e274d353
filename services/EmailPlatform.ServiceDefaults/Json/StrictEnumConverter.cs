using System.Collections.Frozen;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace EmailPlatform.ServiceDefaults.Json;

/// <summary>
/// Reads an enum only from one of its exact wire names (snake_case, e.g. <c>"high"</c>), and writes that name.
/// <see cref="JsonStringEnumConverter"/> alone is lenient on input — any case, a comma-separated list of flags
/// (<c>"high, bulk"</c> would become a value that is no member at all) — which a public API must not accept.
/// Registered ahead of it in <see cref="WireJson"/>; the built-in one stays for the OpenAPI schema's enum lists.
/// </summary>
public sealed class StrictEnumConverterFactory : JsonConverterFactory
{
    public override bool CanConvert(Type typeToConvert) => typeToConvert.IsEnum;

    public override JsonConverter CreateConverter(Type typeToConvert, JsonSerializerOptions options) =>
        (JsonConverter)Activator.CreateInstance(typeof(StrictEnumConverter<>).MakeGenericType(typeToConvert))!;
}

/// <inheritdoc cref="StrictEnumConverterFactory"/>
public sealed class StrictEnumConverter<T> : JsonConverter<T> where T : struct, Enum
{
    private static readonly FrozenDictionary<string, T> ByName =
        Enum.GetValues<T>().ToFrozenDictionary(WireName, StringComparer.Ordinal);

    private static readonly FrozenDictionary<T, string> NameOf =
        Enum.GetValues<T>().ToFrozenDictionary(v => v, WireName);

    private static readonly string Expected = string.Join(", ", ByName.Keys.Order(StringComparer.Ordinal));

    private static string WireName(T value) => JsonNamingPolicy.SnakeCaseLower.ConvertName(value.ToString());

    public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            throw new JsonException($"Expected a string, one of: {Expected}.");
        }

        var text = reader.GetString()!;
        return ByName.TryGetValue(text, out var value)
            ? value
            : throw new JsonException($"Unknown value; expected one of: {Expected}.");
    }

    public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options) =>
        writer.WriteStringValue(NameOf.TryGetValue(value, out var name) ? name : throw new JsonException($"{typeof(T).Name} {value} has no wire name."));
}
