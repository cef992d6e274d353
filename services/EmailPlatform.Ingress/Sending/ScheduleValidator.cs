using System.Globalization;

namespace EmailPlatform.Ingress.Sending;

/// <summary>
/// <c>scheduled_at</c> and <c>expires_at</c>: ISO 8601 (RFC 3339) dates and times with an offset, in the future,
/// and not too far ahead; an email's deadline comes after its scheduled time.
/// </summary>
internal static class ScheduleValidator
{
    private const string Field = "scheduled_at";
    private const string ExpiryField = "expires_at";

    public static DateTimeOffset? Check(SendEmailValidator.Errors errors, string? value, SendLimits limits) =>
        CheckFuture(errors, Field, value, limits, limits.MaxScheduleAhead);

    /// <summary>
    /// <c>expires_at</c>, the client's delivery deadline: in the future, after <paramref name="scheduledAt"/> when the
    /// email is scheduled (an email that expires before it may leave could never be sent), and at most
    /// <see cref="SendLimits.MaxExpiresAhead"/> ahead.
    /// </summary>
    public static DateTimeOffset? CheckExpiry(SendEmailValidator.Errors errors, string? value, DateTimeOffset? scheduledAt, SendLimits limits)
    {
        if (CheckFuture(errors, ExpiryField, value, limits, limits.MaxExpiresAhead) is not { } at)
        {
            return null;
        }

        if (scheduledAt is { } scheduled && at <= scheduled)
        {
            errors.Add(ExpiryField, $"{ExpiryField} must be after scheduled_at ({scheduled:O}); {at:O} is not.");
            return null;
        }

        return at;
    }

    private static DateTimeOffset? CheckFuture(SendEmailValidator.Errors errors, string field, string? value, SendLimits limits, TimeSpan maxAhead)
    {
        if (value is null)
        {
            return null;
        }

        if (!DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
            || value.Length < 10 || SendEmailValidator.ContainsControl(value))
        {
            errors.Add(field, $"'{value}' is not an ISO 8601 date and time, such as 2026-12-01T09:30:00Z.");
            return null;
        }

        if (at <= limits.Now)
        {
            errors.Add(field, $"{field} must be in the future; {at:O} has passed.");
            return null;
        }

        if (at > limits.Now + maxAhead)
        {
            errors.Add(field, $"{field} may be at most {Describe(maxAhead)} ahead.");
            return null;
        }

        return at.ToUniversalTime();
    }

    private static string Describe(TimeSpan span) => span >= TimeSpan.FromDays(1) ? Amount(span.TotalDays, "day")
        : span >= TimeSpan.FromHours(1) ? Amount(span.TotalHours, "hour")
        : Amount(span.TotalMinutes, "minute");

    private static string Amount(double value, string unit) =>
        string.Create(CultureInfo.InvariantCulture, $"{value:0.#} {unit}{(Math.Round(value, 1) == 1 ? "" : "s")}");
}
