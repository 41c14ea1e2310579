//! Pub/Sub commands: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH,
//! PUBSUB.

use crate::command::{CmdResult, Ctx, TableBuilder};
use crate::server::pubsub::Kind;

/// Registers the family.
pub fn register(t: &mut TableBuilder) {
    t.add("subscribe", subscribe);
    t.add("psubscribe", psubscribe);
    t.add("ssubscribe", ssubscribe);
    t.add("unsubscribe", unsubscribe);
    t.add("punsubscribe", punsubscribe);
    t.add("sunsubscribe", sunsubscribe);
    t.add("publish", publish);
    t.add("spublish", spublish);
    t.add_sub("pubsub", "channels", pubsub_channels);
    t.add_sub("pubsub", "shardchannels", pubsub_shardchannels);
    t.add_sub("pubsub", "numsub", pubsub_numsub);
    t.add_sub("pubsub", "shardnumsub", pubsub_shardnumsub);
    t.add_sub("pubsub", "numpat", pubsub_numpat);
    t.add_sub("pubsub", "help", pubsub_help);
}

impl Kind {
    fn index(self) -> usize {
        match self {
            Kind::Channel => 0,
            Kind::Pattern => 1,
            Kind::Shard => 2,
        }
    }

    fn names(self) -> (&'static [u8], &'static [u8]) {
        match self {
            Kind::Channel => (b"subscribe", b"unsubscribe"),
            Kind::Pattern => (b"psubscribe", b"punsubscribe"),
            Kind::Shard => (b"ssubscribe", b"sunsubscribe"),
        }
    }
}

/// The count a (un)subscribe confirmation reports for this kind.
fn count(ctx: &Ctx, kind: Kind) -> usize {
    match kind {
        Kind::Shard => ctx.client.subs.names[2].len(),
        _ => ctx.client.subs.classic(),
    }
}

fn confirm(ctx: &mut Ctx, what: &[u8], name: Option<&[u8]>, count: usize) {
    ctx.out.push(3);
    ctx.out.bulk(what);
    match name {
        Some(n) => ctx.out.bulk(n),
        None => ctx.out.null(),
    }
    ctx.out.int(count as i64);
}

fn publish_counts(ctx: &Ctx) {
    let names = &ctx.client.subs.names;
    ctx.client.handle.info.lock().subscriptions = [names[0].len(), names[1].len(), names[2].len()];
}

fn subscribe_generic(ctx: &mut Ctx, args: &[&[u8]], kind: Kind) -> CmdResult {
    let subscriber = ctx.client.subs.queue(&ctx.client.handle, ctx.out.resp3);
    for name in &args[1..] {
        let list = &mut ctx.client.subs.names[kind.index()];
        if !list.iter().any(|n| n == name) {
            list.push(name.to_vec());
            ctx.server.pubsub.subscribe(kind, name, &subscriber);
        }
        let n = count(ctx, kind);
        confirm(ctx, kind.names().0, Some(name), n);
    }
    publish_counts(ctx);
    Ok(())
}

fn unsubscribe_generic(ctx: &mut Ctx, args: &[&[u8]], kind: Kind) -> CmdResult {
    let what = kind.names().1;
    let names: Vec<Vec<u8>> = if args.len() > 1 {
        args[1..].iter().map(|a| a.to_vec()).collect()
    } else {
        ctx.client.subs.names[kind.index()].clone()
    };
    if names.is_empty() {
        let n = count(ctx, kind);
        confirm(ctx, what, None, n);
    }
    for name in names {
        let list = &mut ctx.client.subs.names[kind.index()];
        if let Some(pos) = list.iter().position(|n| *n == name) {
            list.remove(pos);
            ctx.server.pubsub.unsubscribe(kind, &name, ctx.client.id);
        }
        let n = count(ctx, kind);
        confirm(ctx, what, Some(&name), n);
    }
    publish_counts(ctx);
    Ok(())
}

fn subscribe(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    subscribe_generic(ctx, args, Kind::Channel)
}

fn psubscribe(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    subscribe_generic(ctx, args, Kind::Pattern)
}

fn ssubscribe(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    subscribe_generic(ctx, args, Kind::Shard)
}

fn unsubscribe(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    unsubscribe_generic(ctx, args, Kind::Channel)
}

fn punsubscribe(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    unsubscribe_generic(ctx, args, Kind::Pattern)
}

fn sunsubscribe(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    unsubscribe_generic(ctx, args, Kind::Shard)
}

fn publish_generic(ctx: &mut Ctx, args: &[&[u8]], shard: bool) -> CmdResult {
    let limit = ctx.server.config.read().output_limits.pubsub;
    let n = ctx.server.pubsub.publish(shard, args[1], args[2], limit);
    write_own_messages(ctx);
    ctx.out.int(n as i64);
    Ok(())
}

/// Moves the messages already queued for this client into its reply, so a
/// RESP3 subscriber publishing to its own channel gets the push before the
/// PUBLISH reply (also inside an EXEC reply), as Redis writes both to the
/// same output buffer.
fn write_own_messages(ctx: &mut Ctx) {
    let subs = &mut ctx.client.subs;
    let (Some(sub), Some(inbox)) = (&subs.subscriber, &mut subs.inbox) else {
        return;
    };
    let (mut bytes, mut items) = (0, 0);
    while let Ok(msg) = inbox.try_recv() {
        bytes += msg.len();
        items += 1;
        ctx.out.buf.extend_from_slice(&msg);
    }
    if items > 0 {
        sub.written(bytes, items);
    }
}

fn publish(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    publish_generic(ctx, args, false)
}

fn spublish(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    publish_generic(ctx, args, true)
}

fn channels_generic(ctx: &mut Ctx, args: &[&[u8]], shard: bool) -> CmdResult {
    let channels = ctx.server.pubsub.channels(shard, args.get(2).copied());
    ctx.out.bulk_array(channels.iter().map(Vec::as_slice));
    Ok(())
}

fn pubsub_channels(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    channels_generic(ctx, args, false)
}

fn pubsub_shardchannels(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    channels_generic(ctx, args, true)
}

fn numsub_generic(ctx: &mut Ctx, args: &[&[u8]], shard: bool) -> CmdResult {
    // A flat array even in RESP3, as Redis 7.0 replies.
    ctx.out.array((args.len() - 2) * 2);
    for channel in &args[2..] {
        ctx.out.bulk(channel);
        ctx.out.int(ctx.server.pubsub.numsub(shard, channel) as i64);
    }
    Ok(())
}

fn pubsub_numsub(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    numsub_generic(ctx, args, false)
}

fn pubsub_shardnumsub(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    numsub_generic(ctx, args, true)
}

fn pubsub_numpat(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.out.int(ctx.server.pubsub.numpat() as i64);
    Ok(())
}

fn pubsub_help(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    crate::commands::introspect::reply_help(
        ctx.out,
        &[
            "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
            "HELP",
            "    Prints this help.",
        ],
    );
    Ok(())
}
