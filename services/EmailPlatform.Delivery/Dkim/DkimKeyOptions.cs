namespace EmailPlatform.Delivery.Dkim;

/// <summary>
/// One DKIM signing key: an entry of <c>Delivery:Dkim</c>. Mail whose From address is in <see cref="Domain"/> is
/// signed with it. The private key is PEM, given inline (<see cref="PrivateKey"/>, from a secret) or as the path of a
/// mounted file (<see cref="PrivateKeyFile"/>).
/// </summary>
public sealed class DkimKeyOptions
{
    /// <summary>The signing domain (<c>d=</c>), matched exactly against the From address's domain.</summary>
    public string Domain { get; set; } = "";

    /// <summary>The selector (<c>s=</c>): the public key is published at <c>&lt;selector&gt;._domainkey.&lt;domain&gt;</c>.</summary>
    public string Selector { get; set; } = "";

    public string? PrivateKey { get; set; }

    public string? PrivateKeyFile { get; set; }
}
