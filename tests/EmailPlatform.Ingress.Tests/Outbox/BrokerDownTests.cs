using System.Net;
using System.Text.Json;
using EmailPlatform.Ingress.Tests.Support;
using EmailPlatform.Testing;

namespace EmailPlatform.Ingress.Tests.Outbox;

/// <summary>The 202 depends on PostgreSQL only: while RabbitMQ is unreachable the ingress keeps accepting.</summary>
public sealed class BrokerDownTests
{
    [Fact]
    public async Task EmailIsAcceptedAndKeptUnpublishedWhileTheBrokerIsUnreachable()
    {
        var nowhere = new Uri($"amqp://guest:guest@127.0.0.1:{ServiceProcess.FreeTcpPort()}/");
        var app = await IngressApp.StartAsync(rabbitMq: nowhere);
        try
        {
            using var response = await app.PostEmailAsync(SendBodies.Json().ToJsonString());

            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            var id = json.RootElement.GetProperty("id").GetGuid();

            // Give the publisher time for several attempts; none can succeed.
            await Task.Delay(TimeSpan.FromSeconds(2));
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
