using System.Globalization;
using System.Text.RegularExpressions;

namespace EmailPlatform.Ingress.Sending;

/// <summary>
/// <c>scheduled_at</c> and <c>expires_at</c>: ISO 8601 (RFC 3339) dates and times, in the future, and not too far
/// ahead; an email's deadline comes after its scheduled time. Only the ISO form is read (<see cref="IsoDateTime"/>):
/// a culture's form such as <c>03/04/2026 15:00</c> is refused rather than guessed (March or April). A time without
/// an offset is UTC, whatever the server's time zone, as the status service reads times in requests.
/// </summary>
internal static partial class ScheduleValidator
{
    private const string Field = "scheduled_at";
    private const string ExpiryField = "expires_at";

    /// <summary>What the refusal says a value must look like.</summary>
    internal const string Expected =
        "an ISO 8601 date and time, YYYY-MM-DDTHH:MM[:SS[.fraction]] with Z or an offset such as +02:00 (UTC when it has none), for example 2026-12-01T09:30:00Z";

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

        // The shape first, so that the parse, which would read a culture's forms too, only ever sees an ISO one.
        if (!IsoDateTime().IsMatch(value)
            || !DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
        {
            errors.Add(field, $"'{value}' is not {Expected}.");
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

    /// <summary>
    /// ISO 8601's extended form, as RFC 3339 profiles it and as clients write it: a date, or a date and a time to the
    /// minute, the second or a fraction of one (any number of digits, after a point or a comma; rounded to 100 ns),
    /// separated by <c>T</c> (or a space, as RFC 3339 allows; either case), then <c>Z</c>, an offset (<c>+02:00</c>,
    /// <c>+0200</c>, <c>+02</c>) or nothing.
    /// </summary>
    [GeneratedRegex(@"^[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[Tt ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)?)?\z", RegexOptions.CultureInvariant)]
    private static partial Regex IsoDateTime();

    private static string Describe(TimeSpan span) => span >= TimeSpan.FromDays(1) ? Amount(span.TotalDays, "day")
        : span >= TimeSpan.FromHours(1) ? Amount(span.TotalHours, "hour")
        : Amount(span.TotalMinutes, "minute");

    private static string Amount(double value, string unit) =>
        string.Create(CultureInfo.InvariantCulture, $"{value:0.#} {unit}{(Math.Round(value, 1) == 1 ? "" : "s")}");
}
