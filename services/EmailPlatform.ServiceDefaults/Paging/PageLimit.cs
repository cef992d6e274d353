using System.Globalization;

namespace EmailPlatform.ServiceDefaults.Paging;

/// <summary>
/// The <c>limit</c> of the paged lists (emails, suppressions, webhooks and their deliveries, API keys, templates): a whole number
/// from 1 to <see cref="Max"/>, <see cref="Default"/> when absent. Anything else is the client's mistake and is
/// refused under <c>limit</c>, never clamped: a page shorter than asked for would read as "that is all there is".
/// </summary>
public static class PageLimit
{
    public const int Default = 20;
    public const int Max = 100;

    /// <summary>The page size; on a malformed or out-of-range value, adds an error for <c>limit</c> and returns the default.</summary>
    public static int Parse(string? value, Dictionary<string, string[]> errors)
    {
        if (value is null)
        {
            return Default;
        }

        // NumberStyles.None: digits only, so no sign, padding, decimals or thousands separators.
        if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var limit) && limit is >= 1 and <= Max)
        {
            return limit;
        }

        errors["limit"] = [$"limit must be a whole number between 1 and {Max}."];
        return Default;
    }
}
