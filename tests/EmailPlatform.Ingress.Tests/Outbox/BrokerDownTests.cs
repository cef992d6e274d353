using System.Net;
using System.Text.Json;
using EmailPlatform.Ingress.Tests.Support;
using EmailPlatform.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EmailPlatform.Ingress.Tests.Outbox;

/// <summary>The 202 depends on PostgreSQL only: while RabbitMQ is unreachable the ingress keeps accepting.</summary>
public sealed class BrokerDownTests
{
    [Fact]
    public async Task EmailIsAcceptedAndKeptUnpublishedWhileTheBrokerIsUnreachable()
    {
        var nowhere = new Uri($"amqp://guest:guest@127.0.0.1:{ServiceProcess.FreeTcpPort()}/");
        var logs = new LogCapture();
        // Each publish gives up after a second (the default is 10), so that the attempts waited for below come quickly.
        var app = await IngressApp.StartAsync(rabbitMq: nowhere, settings: new Dictionary<string, string?> { ["Ingress:Outbox:PublishTimeout"] = "00:00:01" },
            services: services => services.AddSingleton<ILoggerProvider>(logs));
        try
        {
            using var response = await app.PostEmailAsync(SendBodies.Json().ToJsonString());

            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            var id = json.RootElement.GetProperty("id").GetGuid();

            // The publisher has tried, and failed (PublishFailed, 1101), twice since the email was accepted.
            var before = logs.Entries.Count(e => e.Id == 1101);
            await Eventually.GetAsync(() => Task.FromResult(logs.Entries.Count(e => e.Id == 1101)), n => n >= before + 2, TimeSpan.FromSeconds(60),
                "two failed publishes");
            var row = await app.FindOutboxRowAsync(id);
            Assert.NotNull(row);
            Assert.Null(row.PublishedAt);
            Assert.Equal(1, await app.CountOutboxAsync());

            // Still ready: a readiness probe must not take the ingress out of service while it keeps accepting.
            using var ready = await app.CreateAnonymousClient().GetAsync(new Uri("/health/ready", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        }
        finally
        {
            await app.DisposeAsync();
        }
    }
}
