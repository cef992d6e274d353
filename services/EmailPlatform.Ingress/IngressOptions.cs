using System.ComponentModel.DataAnnotations;

namespace EmailPlatform.Ingress;

/// <summary>Configuration section <c>Ingress</c>.</summary>
public sealed class IngressOptions
{
    public const string SectionName = "Ingress";

    /// <summary>
    /// Base URL of the status service. When set, the ingress also serves the <c>/v1/emails</c> reads by
    /// forwarding them there, so clients use one base URL for everything.
    /// </summary>
    public Uri? StatusUrl { get; set; }

    /// <summary>
    /// How long the ingress waits for the status service's answer to a request it forwards (<see cref="StatusUrl"/>)
    /// before answering 504. The admin operations it forwards run in the request (erasing an address on hundreds of
    /// thousands of emails, a bulk retry of thousands), so this is long, like HttpClient's own default.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00", ErrorMessage = "Ingress:StatusTimeout must be between 1 second and 1 hour.")]
    public TimeSpan StatusTimeout { get; set; } = TimeSpan.FromSeconds(100);

    /// <summary>Right-hand side of generated Message-IDs; the sender's domain when not set.</summary>
    public string? MessageIdDomain { get; set; }

    /// <summary>
    /// The envelope sender (<c>MAIL FROM</c>) of the emails sent through <c>POST /v1/emails</c>, the batch and templates,
    /// such as <c>bounces@bounce.example.com</c>, with each email's id added to its local part
    /// (<c>bounces+&lt;id&gt;@bounce.example.com</c>, VERP): the bounces that come back after a relay took the message go
    /// to that domain, whose mail the operator routes to <c>POST /v1/bounces</c>, and name their email even when they
    /// return none of its headers. Not set (or empty): the <c>from</c> address, as before. A raw send keeps its own <c>mail_from</c>.
    /// </summary>
    public string? ReturnPath { get; set; }

    /// <summary>Largest request body accepted (413 above it).</summary>
    [Range(1024, 1L << 30, ErrorMessage = "Ingress:MaxRequestBodyBytes must be between 1 KB and 1 GB.")]
    public long MaxRequestBodyBytes { get; set; } = 40L * 1024 * 1024;

    /// <summary>
    /// How many bytes of request bodies this replica holds at once (<see cref="Sending.RequestBodyBudget"/>): past it a
    /// request waits, before its body is read, for earlier ones to be answered. What a request holds in memory until
    /// its answer is several times its body (bench/accept.sh: about 10 MB of large-object heap for a 4 MB send), so keep
    /// this well under the memory limit: with the default, 32 clients sending 4 MB each stayed within the heap the
    /// chart's 512 MiB gives. A body larger than this is still read, alone.
    /// </summary>
    [Range(1024 * 1024, 1L << 36, ErrorMessage = "Ingress:MaxBodyBytesInFlight must be between 1 MiB and 64 GiB.")]
    public long MaxBodyBytesInFlight { get; set; } = 16L * 1024 * 1024;

    /// <summary>
    /// How long a request waits for its share of <see cref="MaxBodyBytesInFlight"/> before it is answered 503 with
    /// <c>Retry-After</c>, nothing accepted. Short, so that the requests of clients that gave up do not pile up: each
    /// holds what the server has buffered of its body while it waits. 0: it never waits.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00", ErrorMessage = "Ingress:MaxBodyWait must be between 0 and 10 minutes.")]
    public TimeSpan MaxBodyWait { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Most recipients (to, cc and bcc together) in one email; each field allows at most 50.</summary>
    [Range(1, 1000, ErrorMessage = "Ingress:MaxRecipients must be between 1 and 1000.")]
    public int MaxRecipients { get; set; } = 100;

    /// <summary>How far ahead <c>scheduled_at</c> may be.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "365.00:00:00", ErrorMessage = "Ingress:MaxScheduleAhead must be between 1 minute and 365 days.")]
    public TimeSpan MaxScheduleAhead { get; set; } = TimeSpan.FromDays(30);

    /// <summary>How far ahead <c>expires_at</c> (a send's delivery deadline) may be.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "365.00:00:00", ErrorMessage = "Ingress:MaxExpiresAhead must be between 1 minute and 365 days.")]
    public TimeSpan MaxExpiresAhead { get; set; } = TimeSpan.FromDays(30);

    /// <summary>
    /// Largest email content (bodies in UTF-8 plus decoded attachments or raw message) that travels on the bus; a
    /// larger email's content goes to the content store and its bus messages carry only a reference to it, so that
    /// the broker's memory stays small however large the emails in flight. 0 stores every email's content.
    /// </summary>
    [Range(0, 64L * 1024 * 1024, ErrorMessage = "Ingress:InlineContentLimit must be between 0 and 64 MB.")]
    public long InlineContentLimit { get; set; } = 256 * 1024;

    /// <summary>
    /// How long stored content is kept after the email is due (its <c>expires_at</c> if later): it must cover the
    /// workers' retries (<c>Delivery:MaxRetryAge</c>, 2 days) and the time failed content is kept for an operator's
    /// retry (<c>Delivery:FailedContentRetention</c>, 3 days). A worker that finds the content gone fails the email's
    /// remaining recipients.
    /// </summary>
    [Range(typeof(TimeSpan), "01:00:00", "365.00:00:00", ErrorMessage = "Ingress:StoredContentRetention must be between 1 hour and 365 days.")]
    public TimeSpan StoredContentRetention { get; set; } = TimeSpan.FromDays(7);
}
