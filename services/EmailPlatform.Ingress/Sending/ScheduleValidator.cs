using System.Globalization;

namespace EmailPlatform.Ingress.Sending;

/// <summary><c>scheduled_at</c>: an ISO 8601 date and time with an offset, in the future, and not too far ahead.</summary>
internal static class ScheduleValidator
{
    private const string Field = "scheduled_at";

    public static DateTimeOffset? Check(SendEmailValidator.Errors errors, string? value, SendLimits limits)
    {
        if (value is null)
        {
            return null;
        }

        if (!DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
            || value.Length < 10 || SendEmailValidator.ContainsControl(value))
        {
            errors.Add(Field, $"'{value}' is not an ISO 8601 date and time, such as 2026-12-01T09:30:00Z.");
            return null;
        }

        if (at <= limits.Now)
        {
            errors.Add(Field, $"{Field} must be in the future; {at:O} has passed.");
            return null;
        }

        if (at > limits.Now + limits.MaxScheduleAhead)
        {
            errors.Add(Field, $"{Field} may be at most {limits.MaxScheduleAhead.TotalDays:0.#} days ahead.");
            return null;
        }

        return at.ToUniversalTime();
    }
}
