using System.Collections.Frozen;
using System.Globalization;
using System.Linq.Expressions;
using EmailPlatform.ServiceDefaults.Addresses;
using EmailPlatform.Status.Storage;

namespace EmailPlatform.Status.Reads;

/// <summary>
/// The email filters shared by <c>GET /v1/emails</c> (query string) and the bulk operations (JSON <c>filter</c>):
/// recipient, sender, tags (<c>name:value</c>), metadata (<c>key=value</c>) and a created-at range. <c>status</c> is
/// parsed here but applied by the caller, because it means the email's state in the list and the recipients' state in
/// a bulk retry.
/// </summary>
public sealed record EmailFilter(
    string? Status = null,
    string? Recipient = null,
    string? From = null,
    string[]? Tag = null,
    string[]? Metadata = null,
    string? CreatedAfter = null,
    string? CreatedBefore = null)
{
    /// <summary>Applies every filter but <see cref="Status"/>; a malformed one adds an error under <paramref name="prefix"/> + its name.</summary>
    internal IQueryable<EmailRecord> Apply(IQueryable<EmailRecord> emails, StatusDbContext db, Dictionary<string, string[]> errors, string prefix = "")
    {
        if (!string.IsNullOrWhiteSpace(Recipient) && OneAddress(Recipient, prefix, "recipient", errors))
        {
            var address = AddressKeys.Of(Recipient);
            emails = emails.Where(e => db.Recipients.Any(r => r.EmailId == e.Id && r.Address == address));
        }

        if (!string.IsNullOrWhiteSpace(From) && OneAddress(From, prefix, "from", errors))
        {
            // The key the recorder stores (AddressKeys), so a punycode domain finds the mail MimeKit recorded in Unicode.
            var sender = AddressKeys.Of(From);
            emails = emails.Where(e => e.FromAddress == sender);
        }

        emails = FilterByLabels(emails, db, Tag, ':', EmailLabelRecord.TagKind, prefix + "tag", errors);
        emails = FilterByLabels(emails, db, Metadata, '=', EmailLabelRecord.MetadataKind, prefix + "metadata", errors);

        if (ParseTime(CreatedAfter, prefix + "created_after", errors) is { } after)
        {
            emails = emails.Where(e => e.AcceptedAt >= after);
        }

        if (ParseTime(CreatedBefore, prefix + "created_before", errors) is { } before)
        {
            emails = emails.Where(e => e.AcceptedAt < before);
        }

        return emails;
    }

    /// <summary>The names <see cref="ParseState"/> takes, for error messages.</summary>
    public static readonly string StateNames =
        string.Join(", ", Enum.GetValues<EmailState>().Select(s => s.ToWire())) + " (delivery_delayed is deferred)";

    private static readonly FrozenDictionary<string, EmailState> States = Enum.GetValues<EmailState>()
        .Select(s => KeyValuePair.Create(s.ToWire(), s))
        .Append(KeyValuePair.Create("delivery_delayed", EmailState.Deferred))
        .ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// A state by its wire name, in any case; Resend's <c>delivery_delayed</c> is our <c>deferred</c>. Nothing else:
    /// <see cref="Enum.TryParse{TEnum}(string, bool, out TEnum)"/> would also take a number, padding, and a comma list
    /// (ORed: <c>queued,sending</c> is <c>deferred</c>).
    /// </summary>
    public static EmailState? ParseState(string value) => States.TryGetValue(value, out var state) ? state : null;

    /// <summary>
    /// Whether <paramref name="value"/> can be one stored address (an <c>@</c>, no list, no space outside a quoted local
    /// part); otherwise an error: such a filter would match nothing, and the commonest cause, a <c>+</c> written as it is
    /// in a query string, which reads it as a space, would look like "no email was sent to this address".
    /// </summary>
    /// <param name="prefix">Empty for the query string, where the advice on '+' applies; the JSON filter's path otherwise.</param>
    private static bool OneAddress(string value, string prefix, string name, Dictionary<string, string[]> errors)
    {
        var address = value.Trim();
        var spaced = !address.StartsWith('"') && address.Any(char.IsWhiteSpace);
        if (address.Contains('@', StringComparison.Ordinal) && !address.Contains(',', StringComparison.Ordinal) && !spaced)
        {
            return true;
        }

        var field = prefix + name;
        errors[field] = [$"{field} must be one email address, such as alice@example.com" +
            (spaced && prefix.Length == 0 ? "; a '+' in a query string is read as a space: write it as %2B." : ".")];
        return false;
    }

    private static IQueryable<EmailRecord> FilterByLabels(
        IQueryable<EmailRecord> emails, StatusDbContext db, string[]? filters, char separator, string kind, string field, Dictionary<string, string[]> errors)
    {
        foreach (var filter in filters ?? [])
        {
            var at = filter?.IndexOf(separator, StringComparison.Ordinal) ?? -1;
            if (at <= 0)
            {
                errors[field] = [$"{field} must be written name{separator}value."];
                continue;
            }

            // A name may hold the separator too (a metadata key with '='): each place it could split at is a reading, and
            // a label matching any of them is found. The first is the usual one, and values hold '=' more often.
            var labels = db.EmailLabels.Where(l => l.Kind == kind).Where(AnyOf(Splits(filter!, separator)));
            emails = emails.Where(e => labels.Any(l => l.EmailId == e.Id));
        }

        return emails;
    }

    /// <summary>
    /// The readings of a filter, at most <see cref="MaxReadings"/> (the first places it could split at): each is a term
    /// of the statement, and a filter made of thousands of separators must not make one of thousands of terms.
    /// </summary>
    private static IEnumerable<(string Name, string Value)> Splits(string filter, char separator)
    {
        var readings = 0;
        for (var at = filter.IndexOf(separator, StringComparison.Ordinal); at > 0 && readings < MaxReadings; at = filter.IndexOf(separator, at + 1))
        {
            readings++;
            yield return (filter[..at], filter[(at + 1)..]);
        }
    }

    private const int MaxReadings = 8;

    /// <summary><c>l.Name == name0 &amp;&amp; l.Value == value0 || l.Name == name1 &amp;&amp; …</c>, one term per reading.</summary>
    private static Expression<Func<EmailLabelRecord, bool>> AnyOf(IEnumerable<(string Name, string Value)> readings)
    {
        var label = Expression.Parameter(typeof(EmailLabelRecord), "l");
        var body = readings
            .Select(r => (Expression)Expression.AndAlso(
                Expression.Equal(Expression.Property(label, nameof(EmailLabelRecord.Name)), Constant(r.Name)),
                Expression.Equal(Expression.Property(label, nameof(EmailLabelRecord.Value)), Constant(r.Value))))
            .Aggregate(Expression.OrElse);
        return Expression.Lambda<Func<EmailLabelRecord, bool>>(body, label);

        // As a captured variable would be: a parameter of the statement, not a literal in its text.
        static Expression Constant(string value) => ((Expression<Func<string>>)(() => value)).Body;
    }

    private static DateTime? ParseTime(string? value, string field, Dictionary<string, string[]> errors)
    {
        if (value is null)
        {
            return null;
        }

        if (DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time))
        {
            return time.UtcDateTime;
        }

        errors[field] = [$"{field} must be an ISO 8601 date and time."];
        return null;
    }
}
