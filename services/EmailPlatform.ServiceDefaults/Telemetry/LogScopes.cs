using System.Collections;
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;

namespace EmailPlatform.ServiceDefaults.Telemetry;

/// <summary>
/// The scopes every log entry is written with, in the JSON console format and over OTLP: first the trace the entry
/// belongs to (<c>TraceId</c>, <c>SpanId</c>, <c>ParentId</c>) with the email id (<see cref="EmailTelemetry.EmailIdKey"/>)
/// when the trace's baggage holds one, then the scopes that code opened, with every email address in them replaced by
/// <c>{address}</c>.
/// </summary>
/// <remarks>
/// Registered as the logger factory's <see cref="IExternalScopeProvider"/>, in place of the one that
/// <c>ActivityTrackingOptions</c> configures: that one logs all of the W3C baggage or none of it, and the baggage is
/// whatever a client sends; and the scopes it passes on include ASP.NET Core's request scope, whose <c>RequestPath</c>
/// names the address of <c>/v1/suppressions/{address}</c> and <c>/v1/recipients/{address}</c> in every entry written
/// while such a request runs (EF Core's errors while the store restarts, say), and HttpClient's, whose URL does the same
/// for the workers' suppression lookups.
/// </remarks>
internal sealed partial class LogScopes : IExternalScopeProvider
{
    private const string Placeholder = "{address}";

    private readonly LoggerExternalScopeProvider _opened = new();

    public IDisposable Push(object? state) => _opened.Push(state);

    public void ForEachScope<TState>(Action<object?, TState> callback, TState state)
    {
        if (Activity.Current is { } activity)
        {
            callback(new TraceScope(activity), state);
        }

        _opened.ForEachScope(static (scope, next) => next.Callback(Redact(scope), next.State), (Callback: callback, State: state));
    }

    /// <summary>The scope as opened, or a copy with every address replaced when it names one.</summary>
    internal static object? Redact(object? scope)
    {
        switch (scope)
        {
            case null:
                return null;
            case string text:
                return RedactText(text);
            case IEnumerable<KeyValuePair<string, object?>> pairs:
                // The JSON console format writes the scope's text as its "Message" and then each value.
                var message = Convert.ToString(scope, CultureInfo.InvariantCulture);
                if (!HoldsAddress(message) && !pairs.Any(p => HoldsAddress(ValueText(p.Value))))
                {
                    return scope;
                }

                return new RedactedScope(
                    [.. pairs.Select(p => ValueText(p.Value) is { } value && HoldsAddress(value) ? new KeyValuePair<string, object?>(p.Key, RedactText(value)) : p)],
                    RedactText(message ?? ""));
            default:
                var other = Convert.ToString(scope, CultureInfo.InvariantCulture);
                return HoldsAddress(other) ? RedactText(other!) : scope;
        }
    }

    private static string? ValueText(object? value) => value switch
    {
        null or bool or int or long or double or decimal or Guid or DateTime or DateTimeOffset or TimeSpan or Enum => null,
        string text => text,
        _ => Convert.ToString(value, CultureInfo.InvariantCulture),
    };

    private static bool HoldsAddress(string? text) =>
        text is not null && (text.Contains('@', StringComparison.Ordinal) || text.Contains("%40", StringComparison.OrdinalIgnoreCase));

    private static string RedactText(string text) => HoldsAddress(text) ? AddressToken().Replace(text, Placeholder) : text;

    /// <summary>
    /// A run of characters holding <c>@</c> (or its escape <c>%40</c>) between separators of paths, queries, headers and
    /// prose: an address, a path segment holding one, or a URL's user information (whose password goes with it).
    /// </summary>
    [GeneratedRegex("""[^\s/?#&=,;:"'<>()\[\]{}|\\]*(?:@|%40)[^\s/?#&=,;:"'<>()\[\]{}|\\]*""", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex AddressToken();

    /// <summary>The trace of the entry, as <c>ActivityTrackingOptions</c> logged it, plus the email id from its baggage and no other baggage.</summary>
    private sealed class TraceScope(Activity activity) : ScopeValues(Read(activity))
    {
        private static KeyValuePair<string, object?>[] Read(Activity activity)
        {
            var w3c = activity.IdFormat == ActivityIdFormat.W3C;
            KeyValuePair<string, object?>[] trace =
            [
                new("SpanId", w3c ? activity.SpanId.ToHexString() : activity.Id),
                new("TraceId", w3c ? activity.TraceId.ToHexString() : activity.RootId),
                new("ParentId", w3c ? activity.ParentSpanId.ToHexString() : activity.ParentId),
            ];
            return activity.GetBaggageItem(EmailTelemetry.EmailIdKey) is { } emailId
                ? [.. trace, new(EmailTelemetry.EmailIdKey, RedactText(emailId))]
                : trace;
        }
    }

    private sealed class RedactedScope(KeyValuePair<string, object?>[] items, string text) : ScopeValues(items)
    {
        public override string ToString() => text;
    }

    private abstract class ScopeValues(KeyValuePair<string, object?>[] items) : IReadOnlyList<KeyValuePair<string, object?>>
    {
        public int Count => items.Length;

        public KeyValuePair<string, object?> this[int index] => items[index];

        public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() => ((IEnumerable<KeyValuePair<string, object?>>)items).GetEnumerator();

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

        public override string ToString() => string.Join(", ", items.Select(i => $"{i.Key}:{i.Value}"));
    }
}
