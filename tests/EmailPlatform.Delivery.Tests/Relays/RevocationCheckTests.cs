using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Relays;
using EmailPlatform.Delivery.Smtp;
using EmailPlatform.Delivery.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Delivery.Tests.Relays;

/// <summary>
/// <c>Delivery:Relays:N:CheckCertificateRevocation</c> reaches the SMTP client of that relay's connections, and only
/// that relay's. On (MailKit's default), the TLS handshake asks the certificate's CA over HTTP whether it was revoked;
/// behind an egress policy that lets the workers reach the relay and nothing else, that lookup is dropped and every
/// handshake fails, so an operator turns it off for the relay.
/// </summary>
public sealed class RevocationCheckTests
{
    [Theory]
    [InlineData(null, true)]
    [InlineData("true", true)]
    [InlineData("false", false)]
    public async Task ARelaysConnectionsCheckRevocationAsItsOwnSettingSays(string? configured, bool expected)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Delivery:Relays:0:Security"] = "StartTls",
            ["Delivery:Relays:1:Name"] = "other",
            ["Delivery:Relays:1:Host"] = "smtp.other.example",
            ["Delivery:Relays:1:Port"] = "465",
            ["Delivery:Relays:1:Security"] = "SslOnConnect",
        };
        if (configured is not null)
        {
            settings["Delivery:Relays:0:CheckCertificateRevocation"] = configured;
        }

        await using var host = await DeliveryHost.StartAsync(TestRelays.UnusedPort(), settings: settings);
        var relays = host.Services.GetRequiredService<IOptions<DeliveryOptions>>().Value.Relays;
        var pools = host.Services.GetRequiredService<SmtpConnectionPools>();

        Assert.Equal(expected, await RevocationCheckedAsync(pools.For(relays[0])));
        Assert.True(await RevocationCheckedAsync(pools.For(relays[1])));
    }

    /// <summary>Whether a new connection of the pool (rented, never connected) checks revocation.</summary>
    private static async Task<bool> RevocationCheckedAsync(SmtpConnectionPool pool)
    {
        var connection = await pool.RentAsync(EmailPriority.Normal, CancellationToken.None);
        try
        {
            return connection.Client.CheckCertificateRevocation;
        }
        finally
        {
            pool.Return(connection, reusable: false);
        }
    }
}
