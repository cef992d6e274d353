using System.Text.Encodings.Web;
using System.Text.Json;

namespace EmailPlatform.ServiceDefaults.Json;

/// <summary>
/// The JSON the services store for themselves and read back (the ingress's outbox rows, the workers' persisted
/// commands, the status service's bulk commands): the contracts' own names, as the bus has them, and text written as it
/// is. The default encoder writes every <c>&lt;</c>, <c>&gt;</c>, <c>&amp;</c>, quote and non-ASCII character as a
/// six-byte <c>\uXXXX</c>, for JSON that might end up inside a web page; this JSON never does, and with the default an
/// HTML body's row came out 40% larger than the body. Only what JSON itself requires is escaped (quotes, backslashes,
/// control characters). Rows written with the default encoder read back the same.
/// </summary>
public static class StoredJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.General)
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };
}
