using System.Text.Json;
using System.Text.Json.Serialization;

namespace EmailPlatform.ServiceDefaults.Json;

/// <summary>
/// The public API's JSON conventions: snake_case names and enums, as Resend's wire format has them, and a time without
/// an offset read as UTC (<see cref="UtcDateTimeOffsetConverter"/>).
/// </summary>
public static class WireJson
{
    public static readonly JsonSerializerOptions Options = Configure(new JsonSerializerOptions(JsonSerializerDefaults.Web));

    public static JsonSerializerOptions Configure(JsonSerializerOptions options)
    {
        options.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        options.DictionaryKeyPolicy = null;
        options.Converters.Add(new StrictEnumConverterFactory());
        options.Converters.Add(new UtcDateTimeOffsetConverter());
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false));
        options.MaxDepth = 32;
        return options;
    }
}
