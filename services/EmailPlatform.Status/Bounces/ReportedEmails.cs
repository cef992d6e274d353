using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using EmailPlatform.Status.Storage;
using Microsoft.EntityFrameworkCore;

namespace EmailPlatform.Status.Bounces;

/// <summary>
/// What a report that comes back by mail names (a bounce, <see cref="DeliveryReport"/>; a complaint,
/// <see cref="Complaints.FeedbackReport"/>): the Message-IDs it quotes, the email ids in the <see cref="EmailIdHeader"/>
/// of the message it returns, and the ids in the envelope senders it was sent to (<c>Ingress:ReturnPath</c>).
/// </summary>
public sealed record ReportedEmailKeys(IReadOnlyList<string> MessageIds, IReadOnlyList<Guid> HeaderIds, IReadOnlyList<Guid> ReturnPathIds)
{
    /// <summary>
    /// The header the delivery workers add to every message they send, raw ones included, with its email's id
    /// (<c>MimeMessageFactory.EmailIdHeader</c>): it names the email in a returned message whose Message-ID the client chose.
    /// </summary>
    public const string EmailIdHeader = "X-Email-Id";

    /// <summary>The Message-IDs among <paramref name="fields"/> (header values, with or without angle brackets), each once.</summary>
    public static List<string> MessageIdsIn(IEnumerable<string?> fields) =>
    [
        .. fields.Where(id => !string.IsNullOrWhiteSpace(id)).Select(id => id!.Trim().Trim('<', '>')).Distinct(StringComparer.OrdinalIgnoreCase),
    ];

    /// <summary>The email ids in the <see cref="EmailIdHeader"/> fields of <paramref name="returned"/>, the headers of returned messages.</summary>
    public static List<Guid> HeaderIdsIn(IEnumerable<MimeKit.HeaderList> returned) =>
    [
        .. returned.SelectMany(h => h.Where(f => f.Field.Equals(EmailIdHeader, StringComparison.OrdinalIgnoreCase)))
            .Select(f => Guid.TryParse(f.Value.Trim(), out var id) ? id : Guid.Empty)
            .Where(id => id != Guid.Empty)
            .Distinct(),
    ];

    /// <summary>An envelope sender made by <c>Ingress:ReturnPath</c>: its email's id after a '+' in the local part.</summary>
    private static readonly Regex ReturnPathAddress = new(@"\+(?<id>[0-9a-fA-F]{32})@", RegexOptions.CultureInvariant);

    /// <summary>The ids of the emails whose envelope senders (made by <c>Ingress:ReturnPath</c>) the values hold.</summary>
    public static List<Guid> ReturnPathIdsIn(IEnumerable<string?> values) =>
    [
        .. values.OfType<string>().SelectMany(v => ReturnPathAddress.Matches(v)).Select(m => Guid.ParseExact(m.Groups["id"].Value, "N")).Distinct(),
    ];

    /// <summary>The Message-IDs of the form the platform generates (<c>&lt;id&gt;@domain</c>), with that id.</summary>
    public IEnumerable<(string MessageId, Guid Id)> ByMessageId =>
        MessageIds
            .Select(id => (MessageId: id, Local: id.Split('@')[0]))
            .Where(c => c.Local.Length == 32 && Guid.TryParseExact(c.Local, "N", out _))
            .Select(c => (c.MessageId, Guid.ParseExact(c.Local, "N")));

    /// <summary>Every email id the report may be about: from its Message-IDs, the returned message's email id header, then the envelope sender it was sent to.</summary>
    public IEnumerable<Guid> CandidateIds => ByMessageId.Select(c => c.Id).Concat(HeaderIds).Concat(ReturnPathIds).Distinct();

    /// <summary>Why no email was found: what the report names, or that it names nothing.</summary>
    public string UnknownEmailDetail()
    {
        List<string> named =
        [
            .. MessageIds.Select(id => $"Message-ID <{id}>"),
            .. HeaderIds.Select(id => $"{EmailIdHeader} {id}"),
            .. ReturnPathIds.Select(id => $"envelope sender of email {id}"),
        ];
        return named.Count == 0
            ? "The report returns neither the message nor its headers, and was not sent to an envelope sender made by Ingress:ReturnPath, so nothing names the email."
            : $"No email sent here is the one the report names ({string.Join(", ", named)}).";
    }
}

/// <summary>
/// Finds the email a report that came back by mail is about (<see cref="FindAsync"/>), tells a report about an email
/// not recorded here yet from one about an email never sent here (<see cref="RecentCandidate"/>), and makes the ids of
/// the events it records, the same each time the same report is handed in (<see cref="EventIdFor"/>).
/// </summary>
public sealed class ReportedEmails(StatusDbContext db, TimeProvider clock)
{
    /// <summary>
    /// How long after its accept (the time in its version 7 id) an email not recorded here yet may still be, so that a
    /// report naming it is refused for now rather than for good: a bounce can come back within a second of the relay's
    /// 250, before the status service has recorded the accept, and more so while it is behind. After that, the id is one
    /// this platform never sent (or whose email retention removed).
    /// </summary>
    public static readonly TimeSpan RecordingGrace = TimeSpan.FromHours(24);

    /// <summary>
    /// The email a report is about, with its recipients and without its bodies: one whose id and Message-ID are those of
    /// a Message-ID it names (ours are <c>&lt;id&gt;@domain</c>); failing that, the one the returned message's
    /// <see cref="ReportedEmailKeys.EmailIdHeader"/> names; failing that, the one whose envelope sender it was delivered to
    /// (<c>Ingress:ReturnPath</c>).
    /// </summary>
    public async Task<EmailRecord?> FindAsync(ReportedEmailKeys keys, CancellationToken cancellationToken)
    {
        var ids = keys.CandidateIds.ToArray();
        if (ids.Length == 0)
        {
            return null;
        }

        var emails = await db.EmailsWithoutBodies.AsNoTracking().Include(e => e.Recipients).Where(e => ids.Contains(e.Id)).ToListAsync(cancellationToken);
        return keys.ByMessageId
            .Select(c => emails.Find(e => e.Id == c.Id
                && (e.MessageId is null || string.Equals(e.MessageId.Trim().Trim('<', '>'), c.MessageId, StringComparison.OrdinalIgnoreCase))))
            .Concat(keys.HeaderIds.Concat(keys.ReturnPathIds).Select(id => emails.Find(e => e.Id == id)))
            .FirstOrDefault(e => e is not null);
    }

    /// <summary>The first email id the report names that the ingress made (version 7) less than <see cref="RecordingGrace"/> ago.</summary>
    public Guid? RecentCandidate(ReportedEmailKeys keys) =>
        keys.CandidateIds.Where(IsRecent).Select(id => (Guid?)id).FirstOrDefault();

    /// <summary>The detail of a refusal for <see cref="RecentCandidate"/>: the email is on its way, the report is to be offered again.</summary>
    public static string NotRecordedYetDetail(Guid emailId) =>
        $"Email {emailId} was accepted {EmailIds.MadeAt(emailId):u} and is not recorded here yet; offer the report again later.";

    /// <summary>
    /// When a report's events happened: the date the report gives, unless it is missing or in the future, and never before
    /// the email was accepted (a report cannot be older than what it reports on). A date from a wrong clock or a report
    /// made up would otherwise put its event out of every range replay that covers when it was recorded, and before the
    /// retention purge's horizon, which would delete it at its next run and with it the record that the report was taken.
    /// </summary>
    public DateTimeOffset OccurredAt(DateTimeOffset reportDate, EmailRecord email)
    {
        var now = clock.GetUtcNow();
        var date = reportDate > DateTimeOffset.MinValue && reportDate <= now ? reportDate : now;
        var acceptedAt = email.AcceptedAt is { } at ? new DateTimeOffset(DateTime.SpecifyKind(at, DateTimeKind.Utc)) : EmailIds.MadeAt(email.Id);
        return acceptedAt is { } accepted && date < accepted && accepted <= now ? accepted : date;
    }

    /// <summary>What tells one report from another: its own Message-ID, or failing that a hash of it as received.</summary>
    public static string ReportKey(string? reportMessageId, byte[] received) =>
        reportMessageId is { Length: > 0 } id ? "id:" + id : "sha256:" + Convert.ToHexString(SHA256.HashData(received));

    /// <summary>Whether the id is one the ingress made (version 7) less than <see cref="RecordingGrace"/> ago.</summary>
    public bool IsRecent(Guid id)
    {
        // The time in another version's bits is no time at all.
        if (EmailIds.MadeAt(id) is not { } made)
        {
            return false;
        }

        var age = clock.GetUtcNow() - made;
        return age < RecordingGrace && age > -TimeSpan.FromMinutes(5);
    }

    /// <summary>
    /// The same for the same kind of report (<c>bounce-report</c>, <c>complaint-report</c>), email, recipient and report,
    /// so that a report recorded again is recorded once (RFC 9562 version 8).
    /// </summary>
    internal static Guid EventIdFor(string kind, Guid emailId, string recipient, string reportKey)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes($"{kind}\n{emailId:N}\n{recipient}\n{reportKey}"), hash);
        var bytes = hash[..16];
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x80);
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80);
        return new Guid(bytes, bigEndian: true);
    }
}
