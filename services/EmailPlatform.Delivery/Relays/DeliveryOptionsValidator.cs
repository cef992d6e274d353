using EmailPlatform.Delivery.Dkim;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Delivery.Relays;

/// <summary>
/// Fails the start of the host with every problem in <c>Delivery</c> at once, each naming the
/// configuration key to fix.
/// </summary>
internal sealed class DeliveryOptionsValidator : IValidateOptions<DeliveryOptions>
{
    private static readonly TimeSpan MaxTimeout = TimeSpan.FromMinutes(10);

    /// <summary>The SMTP submission port with implicit TLS (SMTPS, RFC 8314).</summary>
    private const int ImplicitTlsPort = 465;

    /// <summary>A longer cache would keep sending to an address long after it was suppressed.</summary>
    private static readonly TimeSpan MaxSuppressionCacheDuration = TimeSpan.FromHours(1);

    public ValidateOptionsResult Validate(string? name, DeliveryOptions options)
    {
        var failures = new List<string>();
        const string section = DeliveryOptions.SectionName;

        if (options.Relays.Count == 0)
        {
            failures.Add($"{section}:Relays is empty: configure at least one relay " +
                $"({section}:Relays:0:Host and optionally :Port, :Security, :Username, :Password; env {section}__Relays__0__Host).");
        }

        var names = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < options.Relays.Count; i++)
        {
            ValidateRelay($"{section}:Relays:{i}", options.Relays[i], failures);

            var relayName = options.Relays[i].Name;
            if (string.IsNullOrWhiteSpace(relayName))
            {
                continue;
            }

            if (names.TryGetValue(relayName, out var first))
            {
                failures.Add($"{section}:Relays:{i}:Name '{relayName}' is already used by {section}:Relays:{first}: relay names must be unique.");
            }
            else
            {
                names[relayName] = i;
            }
        }

        for (var i = 0; i < options.Routes.Count; i++)
        {
            ValidateRoute($"{section}:Routes:{i}", options.Routes[i], names, failures);
        }

        var domains = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < options.Dkim.Count; i++)
        {
            ValidateDkimKey($"{section}:Dkim:{i}", options.Dkim[i], domains, failures);
        }

        ValidateTimeout($"{section}:ConnectTimeout", options.ConnectTimeout, failures);
        ValidateTimeout($"{section}:CommandTimeout", options.CommandTimeout, failures);
        ValidateTimeout($"{section}:DataTimeout", options.DataTimeout, failures);
        ValidateTimeout($"{section}:ConnectionIdleTimeout", options.ConnectionIdleTimeout, failures);
        ValidateTimeout($"{section}:PublishTimeout", options.PublishTimeout, failures);
        ValidateTimeout($"{section}:SuppressionLookupTimeout", options.SuppressionLookupTimeout, failures);

        if (options.ConnectRetries is < 0 or > 10)
        {
            failures.Add($"{section}:ConnectRetries must be between 0 and 10 (was {options.ConnectRetries}).");
        }

        if (options.MaxUnrecordedTransactions is < 1)
        {
            failures.Add($"{section}:MaxUnrecordedTransactions must be at least 1 when set (was {options.MaxUnrecordedTransactions}).");
        }

        if (options.MaxContentBytesInFlight < 1)
        {
            failures.Add($"{section}:MaxContentBytesInFlight must be at least 1 (was {options.MaxContentBytesInFlight}).");
        }

        if (options.MaxMessagesPerConnection < 1)
        {
            failures.Add($"{section}:MaxMessagesPerConnection must be at least 1 (was {options.MaxMessagesPerConnection}).");
        }

        for (var i = 0; i < options.RetrySchedule.Count; i++)
        {
            if (options.RetrySchedule[i] <= TimeSpan.Zero)
            {
                failures.Add($"{section}:RetrySchedule:{i} must be greater than 0 (was {options.RetrySchedule[i]:c}).");
            }
        }

        Positive($"{section}:MaxRetryAge", options.MaxRetryAge, failures);
        Positive($"{section}:BreakerCoolDown", options.BreakerCoolDown, failures);
        if (options.BreakerFailureThreshold < 1)
        {
            failures.Add($"{section}:BreakerFailureThreshold must be at least 1 (was {options.BreakerFailureThreshold}).");
        }

        Positive($"{section}:RequeueAfter", options.RequeueAfter, failures);
        Positive($"{section}:RetryPollInterval", options.RetryPollInterval, failures);
        Positive($"{section}:RecordRetention", options.RecordRetention, failures);

        // A claim must outlive the longest attempt it covers, or a second worker would take over a live send.
        var longestAttempt = options.LongestAttempt;
        if (options.ClaimLease <= longestAttempt)
        {
            failures.Add($"{section}:ClaimLease must be longer than ({section}:ConnectRetries + 1) × {section}:ConnectTimeout + 3 × {section}:CommandTimeout + {section}:DataTimeout " +
                $"({longestAttempt:c}), the longest an attempt can take (was {options.ClaimLease:c}).");
        }

        Positive($"{section}:FailedContentRetention", options.FailedContentRetention, failures);
        if (options.FailedContentRetention > options.RecordRetention)
        {
            failures.Add($"{section}:FailedContentRetention must not exceed {section}:RecordRetention ({options.RecordRetention:c}): a retry needs the " +
                $"recipient's record as well as the content (was {options.FailedContentRetention:c}).");
        }

        foreach (var (lane, settings) in new[] { ("High", options.Lanes.High), ("Normal", options.Lanes.Normal), ("Bulk", options.Lanes.Bulk) })
        {
            if (settings.ConcurrentMessageLimit is < 1)
            {
                failures.Add($"{section}:Lanes:{lane}:ConcurrentMessageLimit must be at least 1 (was {settings.ConcurrentMessageLimit}).");
            }

            if (settings.PrefetchCount is < 1)
            {
                failures.Add($"{section}:Lanes:{lane}:PrefetchCount must be at least 1 (was {settings.PrefetchCount}).");
            }
        }

        if (options.RetryBatchSize < 1)
        {
            failures.Add($"{section}:RetryBatchSize must be at least 1 (was {options.RetryBatchSize}).");
        }

        if (options.StatusUrl is { } statusUrl && (!statusUrl.IsAbsoluteUri || (statusUrl.Scheme != Uri.UriSchemeHttp && statusUrl.Scheme != Uri.UriSchemeHttps)))
        {
            failures.Add($"{section}:StatusUrl must be an absolute http or https URL of the status service, e.g. http://status:8080 (was '{statusUrl}').");
        }

        if (options.SuppressionCacheDuration < TimeSpan.Zero || options.SuppressionCacheDuration > MaxSuppressionCacheDuration)
        {
            failures.Add($"{section}:SuppressionCacheDuration must be between 00:00:00 (no cache) and {MaxSuppressionCacheDuration:c} " +
                $"(was {options.SuppressionCacheDuration:c}).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void ValidateRoute(string key, RouteOptions route, Dictionary<string, int> relays, List<string> failures)
    {
        if (string.IsNullOrWhiteSpace(route.SenderDomain) && string.IsNullOrWhiteSpace(route.Tag))
        {
            failures.Add($"{key} needs a condition: set {key}:SenderDomain (e.g. tenant-a.example) or {key}:Tag (name=value, or name).");
        }

        if (route.Relays.Count == 0)
        {
            failures.Add($"{key}:Relays is empty: name at least one relay of Delivery:Relays ({key}:Relays:0).");
        }

        foreach (var name in route.Relays.Where(n => !relays.ContainsKey(n)))
        {
            failures.Add($"{key}:Relays names '{name}', which is not a relay of Delivery:Relays (by Name).");
        }
    }

    private static void ValidateRelay(string key, RelayOptions relay, List<string> failures)
    {
        if (string.IsNullOrWhiteSpace(relay.Host))
        {
            failures.Add($"{key}:Host is required: the relay's host name or IP address.");
        }

        if (relay.Port is < 1 or > 65535)
        {
            failures.Add($"{key}:Port must be between 1 and 65535 (was {relay.Port}).");
        }

        if (!Enum.IsDefined(relay.Security))
        {
            failures.Add($"{key}:Security must be one of None, StartTls, SslOnConnect, Auto.");
        }
        else if (relay.Port == ImplicitTlsPort && relay.Security != RelaySecurity.SslOnConnect)
        {
            // Port 465 speaks TLS from the first byte (RFC 8314): a relay there waits for a TLS handshake while a
            // plain-text client waits for its greeting, so every connect would hang until Delivery:ConnectTimeout and
            // every email be deferred. Rejected here rather than guessed from the port: Auto keeps one meaning.
            failures.Add($"{key}:Security must be SslOnConnect when {key}:Port is {ImplicitTlsPort} (was {relay.Security}): " +
                $"port {ImplicitTlsPort} is implicit TLS, where a plain-text or STARTTLS connect hangs until Delivery:ConnectTimeout.");
        }

        if (string.IsNullOrEmpty(relay.Username) && !string.IsNullOrEmpty(relay.Password))
        {
            failures.Add($"{key}:Password is set but {key}:Username is not: set both or neither.");
        }
        else if (!string.IsNullOrEmpty(relay.Username) && string.IsNullOrEmpty(relay.Password))
        {
            failures.Add($"{key}:Password is required when {key}:Username is set.");
        }

        if (!string.IsNullOrEmpty(relay.Username) && relay.Security is RelaySecurity.None or RelaySecurity.Auto)
        {
            // Auto falls back to plain text when STARTTLS is not offered (or is stripped by someone in the middle):
            // credentials must never cross the wire in the clear, so they require a security that cannot fall back.
            failures.Add($"{key}:Security must be StartTls or SslOnConnect when {key}:Username is set " +
                $"(was {relay.Security}): credentials are never sent over an unencrypted connection.");
        }

        ValidateTrustedCertificate(key, relay, failures);

        if (relay.MaxConnections < 1)
        {
            failures.Add($"{key}:MaxConnections must be at least 1 (was {relay.MaxConnections}).");
        }

        if (relay.MaxMessagesPerSecond is < 1)
        {
            failures.Add($"{key}:MaxMessagesPerSecond must be at least 1 when set (was {relay.MaxMessagesPerSecond}).");
        }

        if (relay.Weight < 1)
        {
            failures.Add($"{key}:Weight must be at least 1 (was {relay.Weight}).");
        }
    }

    private static void ValidateTrustedCertificate(string key, RelayOptions relay, List<string> failures)
    {
        var inline = !string.IsNullOrWhiteSpace(relay.TrustedCertificate);
        var file = !string.IsNullOrWhiteSpace(relay.TrustedCertificateFile);
        if (!inline && !file)
        {
            return;
        }

        if (inline && file)
        {
            failures.Add($"{key}: set at most one of {key}:TrustedCertificate (PEM) and {key}:TrustedCertificateFile (path of a mounted PEM file).");
            return;
        }

        if (relay.Security == RelaySecurity.None)
        {
            failures.Add($"{key}:{(inline ? "TrustedCertificate" : "TrustedCertificateFile")} is set but {key}:Security is None: " +
                "without TLS there is no certificate to check.");
        }

        try
        {
            RelayCertificates.Trusted(relay);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException
            or System.Security.Cryptography.CryptographicException)
        {
            failures.Add($"{key}:{(inline ? "TrustedCertificate" : "TrustedCertificateFile")} could not be read as a PEM certificate " +
                $"({ex.GetType().Name}: {ex.Message}).");
        }
    }

    private static void ValidateDkimKey(string key, DkimKeyOptions dkim, HashSet<string> domains, List<string> failures)
    {
        if (string.IsNullOrWhiteSpace(dkim.Domain) || string.IsNullOrWhiteSpace(dkim.Selector))
        {
            failures.Add($"{key}:Domain and {key}:Selector are both required.");
            return;
        }

        // Compared as the signer looks keys up (DomainNames.ToAscii): bücher.example and xn--bcher-kva.example are one
        // domain, and of two keys for it only the first would ever sign.
        if (!domains.Add(DomainNames.ToAscii(dkim.Domain)))
        {
            failures.Add($"{key}:Domain '{dkim.Domain}' has more than one key (domains compare case-insensitively, an internationalized name as its A-label): one key per domain.");
        }

        if (string.IsNullOrEmpty(dkim.PrivateKey) == string.IsNullOrEmpty(dkim.PrivateKeyFile))
        {
            failures.Add($"{key}: set exactly one of {key}:PrivateKey (PEM) and {key}:PrivateKeyFile (path of a mounted PEM file).");
            return;
        }

        try
        {
            DkimSigning.CreateSigner(dkim);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or ArgumentException
            or NotSupportedException or Org.BouncyCastle.Security.SecurityUtilityException or Org.BouncyCastle.OpenSsl.PemException
            or InvalidCastException)
        {
            failures.Add($"{key}: the private key for '{dkim.Domain}' could not be read as an RSA key in PEM ({ex.GetType().Name}).");
        }
    }

    private static void Positive(string key, TimeSpan value, List<string> failures)
    {
        if (value <= TimeSpan.Zero)
        {
            failures.Add($"{key} must be greater than 0 (was {value:c}).");
        }
    }

    private static void ValidateTimeout(string key, TimeSpan value, List<string> failures)
    {
        if (value <= TimeSpan.Zero || value > MaxTimeout)
        {
            failures.Add($"{key} must be greater than 0 and at most {MaxTimeout:c} (was {value:c}).");
        }
    }
}
