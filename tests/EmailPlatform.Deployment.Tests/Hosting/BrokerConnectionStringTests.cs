using EmailPlatform.ServiceDefaults;
using EmailPlatform.ServiceDefaults.Messaging;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Deployment.Tests.Hosting;

/// <summary>
/// <c>ConnectionStrings:RabbitMq</c> is an amqp URI; any other value stops the service at start with a message that names
/// the key (README: "A configuration mistake stops the service at start with a message that names the key").
/// </summary>
public sealed class BrokerConnectionStringTests
{
    [Theory]
    [InlineData("host=rabbitmq;username=guest;password=guest")]
    [InlineData("rabbitmq:5672")]
    [InlineData("http://rabbitmq:5672/")]
    public async Task AConnectionStringThatIsNotAnAmqpUriIsRefusedAtStartNamingTheKey(string value)
    {
        var error = await Record.ExceptionAsync(async () =>
        {
            using var host = Build(value);
            await host.StartAsync();
            await host.StopAsync();
        });

        var refused = Assert.IsType<OptionsValidationException>(error);
        Assert.Contains("ConnectionStrings:RabbitMq must be an amqp or amqps URI", refused.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("amqp://guest:guest@127.0.0.1:5672/")]
    [InlineData("amqps://user:secret@rabbitmq.example:5671/tenant")]
    [InlineData("rabbitmq://rabbitmq/")]
    public void AnAmqpUriIsTaken(string value)
    {
        using var host = Build(value);

        // The options are validated (and would throw) here; nothing connects to the broker.
        Assert.NotNull(host.Services.GetRequiredService<IOptions<MassTransit.MassTransitHostOptions>>().Value);
    }

    /// <summary>
    /// The worker's queue depth reader hands the URI to the RabbitMQ client, which takes amqp and amqps only: MassTransit's
    /// own schemes, accepted above, made it fail on every read, and the backlog metrics and alerts were silently gone.
    /// </summary>
    [Theory]
    [InlineData("amqp://guest:guest@127.0.0.1:5672/", "amqp://guest:guest@127.0.0.1:5672/")]
    [InlineData("amqps://user:secret@rabbitmq.example:5671/tenant", "amqps://user:secret@rabbitmq.example:5671/tenant")]
    [InlineData("rabbitmq://rabbitmq/", "amqp://rabbitmq/")]
    [InlineData("rabbitmqs://user:secret@rabbitmq.example:5671/tenant", "amqps://user:secret@rabbitmq.example:5671/tenant")]
    [InlineData("rabbitmq://user:secret@rabbitmq:5673/", "amqp://user:secret@rabbitmq:5673/")]
    public void EveryAcceptedUriIsOneTheRabbitMqClientTakesForTheSameBroker(string value, string expected)
    {
        var uri = MessagingExtensions.AmqpUri(value);

        Assert.Equal(new Uri(expected), uri);
        var factory = new RabbitMQ.Client.ConnectionFactory { Uri = uri };
        Assert.Equal(new Uri(expected).Host, factory.HostName);
    }

    private static IHost Build(string rabbitMq)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ApplicationName = "EmailPlatform.Test" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:RabbitMq"] = rabbitMq });
        builder.AddServiceDefaults();
        builder.AddMessageBus(_ => { });
        return builder.Build();
    }
}
