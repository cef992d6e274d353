using EmailPlatform.ServiceDefaults;
using EmailPlatform.ServiceDefaults.Messaging;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Deployment.Tests.Hosting;

/// <summary>
/// The bus every host gets from <c>AddMessageBus</c>: its stop does not keep the process past <c>Shutdown:Timeout</c>,
/// and its consumers know whether what a stop cuts short is given again.
/// </summary>
public sealed class BusStopTests
{
    private static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task AConsumeThatIgnoresItsCancellationDoesNotKeepTheHostPastTheShutdownTimeout()
    {
        using var host = Build(bus => bus.AddConsumer<StubbornConsumer>());
        await host.StartAsync();
        var started = StubbornConsumer.Started(out var stubborn);
        await host.Services.GetRequiredService<IBus>().Publish(new StubbornWork(stubborn));
        await started.WaitAsync(TimeSpan.FromSeconds(30));

        var stopping = System.Diagnostics.Stopwatch.StartNew();
        await host.StopAsync().WaitAsync(ShutdownTimeout + TimeSpan.FromSeconds(30));
        Assert.True(stopping.Elapsed < ShutdownTimeout, $"the host took {stopping.Elapsed} to stop, longer than Shutdown:Timeout");
        StubbornConsumer.Release(stubborn);
    }

    [Theory]
    [InlineData(null, false)]
    [InlineData("amqp://guest:guest@127.0.0.1:5672/", true)]
    public void ConsumersAreToldWhetherTheBusGivesAgainWhatAStopCutShort(string? rabbitMq, bool redelivers)
    {
        using var host = Build(_ => { }, rabbitMq);
        Assert.Equal(redelivers, host.Services.GetRequiredService<BusTransport>().RedeliversUnfinished);
    }

    private static IHost Build(Action<IBusRegistrationConfigurator> consumers, string? rabbitMq = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ApplicationName = "EmailPlatform.Test" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Shutdown:Timeout"] = ShutdownTimeout.ToString("c", System.Globalization.CultureInfo.InvariantCulture),
            ["ConnectionStrings:RabbitMq"] = rabbitMq,
        });
        builder.AddServiceDefaults();
        builder.AddMessageBus(consumers, allowInMemory: true);
        return builder.Build();
    }
}

/// <summary>A message for <see cref="StubbornConsumer"/>; <paramref name="Key"/> tells one test's from another's.</summary>
public sealed record StubbornWork(Guid Key);

/// <summary>Runs until the test releases it, whatever its consume's cancellation says, as an SMTP transaction past MAIL FROM does.</summary>
public sealed class StubbornConsumer : IConsumer<StubbornWork>
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<Guid, (TaskCompletionSource Started, TaskCompletionSource Release)> Runs = new();

    public static Task Started(out Guid key)
    {
        key = Guid.NewGuid();
        var run = (new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        Runs[key] = run;
        return run.Item1.Task;
    }

    public static void Release(Guid key) => Runs[key].Release.TrySetResult();

    public async Task Consume(ConsumeContext<StubbornWork> context)
    {
        var run = Runs[context.Message.Key];
        run.Started.TrySetResult();
        await run.Release.Task;
    }
}
