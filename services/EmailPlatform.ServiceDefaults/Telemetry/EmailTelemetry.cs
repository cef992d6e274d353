using System.Diagnostics;
using OpenTelemetry;

namespace EmailPlatform.ServiceDefaults.Telemetry;

/// <summary>
/// The email id travels with the trace as W3C baggage (<c>email.id</c>), set where an email enters the system;
/// <see cref="EmailIdSpanProcessor"/> copies it onto every span, MassTransit's and the HTTP client's included,
/// in every service the trace crosses.
/// </summary>
public static class EmailTelemetry
{
    public const string EmailIdKey = "email.id";

    /// <summary>
    /// A URL or path with every segment that holds an email address (<c>@</c> or <c>%40</c>) replaced by
    /// <c>{address}</c>: span attributes name URLs (<c>url.full</c>, <c>url.path</c>), and some of ours, the
    /// suppression lookups, carry a recipient in theirs.
    /// </summary>
    public static string RedactAddresses(string url)
    {
        if (!url.Contains('@', StringComparison.Ordinal) && !url.Contains("%40", StringComparison.OrdinalIgnoreCase))
        {
            return url;
        }

        var queryStart = url.IndexOfAny(['?', '#']);
        var path = queryStart < 0 ? url : url[..queryStart];
        var rest = queryStart < 0 ? "" : url[queryStart..];
        var authority = path.IndexOf("://", StringComparison.Ordinal) is var scheme and >= 0 ? path.IndexOf('/', scheme + 3) : 0;
        if (authority < 0)
        {
            return url;
        }

        var segments = path[authority..].Split('/')
            .Select(s => s.Contains('@', StringComparison.Ordinal) || s.Contains("%40", StringComparison.OrdinalIgnoreCase) ? "{address}" : s);
        return path[..authority] + string.Join('/', segments) + rest;
    }

    /// <summary>Tags the current span and sets the baggage its descendants (and other services) inherit.</summary>
    public static void SetEmailId(Activity? activity, Guid emailId)
    {
        if (activity is null)
        {
            return;
        }

        var value = emailId.ToString();
        activity.SetTag(EmailIdKey, value);
        activity.SetBaggage(EmailIdKey, value);
    }
}

internal sealed class EmailIdSpanProcessor : BaseProcessor<Activity>
{
    public override void OnStart(Activity data)
    {
        if (data.GetTagItem(EmailTelemetry.EmailIdKey) is null && data.GetBaggageItem(EmailTelemetry.EmailIdKey) is { } emailId)
        {
            data.SetTag(EmailTelemetry.EmailIdKey, emailId);
        }
    }
}
