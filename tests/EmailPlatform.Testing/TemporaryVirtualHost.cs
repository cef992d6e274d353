namespace EmailPlatform.Testing;

/// <summary>
/// A RabbitMQ virtual host of its own for one test, so queues and exchanges of different tests never see
/// each other's messages. Made and removed with <c>rabbitmqctl</c> on this machine's broker.
/// </summary>
public sealed class TemporaryVirtualHost : IAsyncDisposable
{
    private TemporaryVirtualHost(string name, Uri uri)
    {
        Name = name;
        Uri = uri;
    }

    public string Name { get; }

    /// <summary>The amqp URI of the virtual host, for <c>ConnectionStrings:RabbitMq</c>.</summary>
    public Uri Uri { get; }

    public static async Task<TemporaryVirtualHost> CreateAsync()
    {
        var name = "ep-test-" + Guid.NewGuid().ToString("N");
        var broker = TestInfrastructure.RabbitMq;
        var user = Uri.UnescapeDataString(broker.UserInfo.Split(':')[0]);
        await RabbitMqCtlAsync("add_vhost", name);
        await RabbitMqCtlAsync("set_permissions", "-p", name, user, ".*", ".*", ".*");
        return new TemporaryVirtualHost(name, new UriBuilder(broker) { Path = "/" + name }.Uri);
    }

    public async ValueTask DisposeAsync() => await RabbitMqCtlAsync("delete_vhost", Name);

    private static Task RabbitMqCtlAsync(params string[] args) => Command.RunAsync("rabbitmqctl", args);
}
