using Microsoft.Extensions.Options;

namespace EmailPlatform.Delivery.Relays;

/// <summary>
/// Fails the start of the host with every problem in <c>Delivery</c> at once, each naming the
/// configuration key to fix.
/// </summary>
internal sealed class DeliveryOptionsValidator : IValidateOptions<DeliveryOptions>
{
    private static readonly TimeSpan MaxTimeout = TimeSpan.FromMinutes(10);

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

        ValidateTimeout($"{section}:ConnectTimeout", options.ConnectTimeout, failures);
        ValidateTimeout($"{section}:CommandTimeout", options.CommandTimeout, failures);

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
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

        if (string.IsNullOrEmpty(relay.Username) && !string.IsNullOrEmpty(relay.Password))
        {
            failures.Add($"{key}:Password is set but {key}:Username is not: set both or neither.");
        }
        else if (!string.IsNullOrEmpty(relay.Username) && string.IsNullOrEmpty(relay.Password))
        {
            failures.Add($"{key}:Password is required when {key}:Username is set.");
        }

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

    private static void ValidateTimeout(string key, TimeSpan value, List<string> failures)
    {
        if (value <= TimeSpan.Zero || value > MaxTimeout)
        {
            failures.Add($"{key} must be greater than 0 and at most {MaxTimeout:c} (was {value:c}).");
        }
    }
}
