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
