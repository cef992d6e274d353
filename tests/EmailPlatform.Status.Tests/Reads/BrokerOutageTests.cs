using System.Net;
using System.Text.Json;
using EmailPlatform.Status.Tests.Support;
using EmailPlatform.Testing;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EmailPlatform.Status.Tests.Reads;

/// <summary>
/// Reads and suppression lookups need PostgreSQL only: while RabbitMQ is unreachable the status service stays ready, so
/// Kubernetes keeps it behind its Service for the ingress's reads and the workers' lookups.
/// </summary>
public sealed class BrokerOutageTests
{
    [Fact]
    public async Task TheServiceStaysReadyAndServesReadsAndSuppressionLookupsWhileTheBrokerIsUnreachable()
    {
        var nowhere = new Uri($"amqp://guest:guest@127.0.0.1:{ServiceProcess.FreeTcpPort()}/");
        var logs = new LogCapture();
        await using var api = await StatusApi.StartAsync(rabbitMq: nowhere, services: services => services.AddSingleton<ILoggerProvider>(logs));
        var emailId = Guid.NewGuid();
        await api.RecordAsync(TestEvents.Accepted(emailId, to: ["alice@example.com", "bob@example.com"]), TestEvents.Bounced(emailId, "bob@example.com"));
        using var client = api.CreateClient();

        // The bus has tried, and cannot connect.
        await Eventually.GetAsync(() => Task.FromResult(logs.Entries.Any(e => e.Level == LogLevel.Warning && e.Message.StartsWith("Connection Failed", StringComparison.Ordinal))),
            failed => failed, TimeSpan.FromSeconds(30), "the bus's failed connection");
        Assert.NotEqual(BusHealthStatus.Healthy, api.Services.GetRequiredService<IBusControl>().CheckHealth().Status);

        using var ready = await client.GetAsync(new Uri("/health/ready", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        using var email = await client.GetAsync(new Uri($"/v1/emails/{emailId}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, email.StatusCode);
        using (var json = JsonDocument.Parse(await email.Content.ReadAsStringAsync()))
        {
            var bob = json.RootElement.GetProperty("recipients").EnumerateArray().Single(r => r.GetProperty("email").GetString() == "bob@example.com");
            Assert.Equal("bounced", bob.GetProperty("status").GetString());
        }

        using var suppressed = await client.GetAsync(new Uri("/v1/suppressions/bob@example.com", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, suppressed.StatusCode);
        using var notSuppressed = await client.GetAsync(new Uri("/v1/suppressions/alice@example.com", UriKind.Relative));
        await ProblemAssert.IsProblemAsync(notSuppressed, HttpStatusCode.NotFound, "not_found");
    }
}
