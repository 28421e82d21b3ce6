"""Make AAF cuts with pyaaf2 the way Avid's "Export AAF, link to media" does,
and read them back: the oracle for which file source mobs a cut uses.

  mkaaf.py make SPEC.json   -> writes spec["out"]
  mkaaf.py read CUT.aaf     -> prints {"composition name": ["<MobID hex>", ...]}

SPEC: {"out": path, "media": [mxf path, ...], "rate": 25, "sector_size": 512 or 4096,
       "synthetic": [{"name": str, "file_umid": hex, "material_umid": hex}, ...] (numbered after media),
       "compositions": [{"name": str, "tracks": [{"kind": "picture"|"sound",
           "clips": [{"media": index, "start": n, "length": n} | {"nested": name}]}]}]}
MobIDs print as the AAF stores them (pyaaf2's bytes_le), in hex.
"""
import json
import sys

import aaf2
import aaf2.mxf
import aaf2.essence


def make(spec):
    with aaf2.open(spec["out"], "w", sector_size=spec.get("sector_size", 4096)) as f:
        masters = []  # (master mob, slot id) per media
        for path in spec.get("media") or []:
            masters.append(link(f, path))
        for syn in spec.get("synthetic") or []:
            master = synthetic(f, syn)
            masters.append((master, master.slots[0].slot_id))
        comps = {}
        for c in spec["compositions"]:
            comp = f.create.CompositionMob()
            comp.name = c["name"]
            f.content.mobs.append(comp)
            comps[c["name"]] = comp
        for c in spec["compositions"]:
            comp = comps[c["name"]]
            for track in c["tracks"]:
                slot = comp.create_empty_sequence_slot(spec.get("rate", 25), media_kind=track["kind"])
                seq = slot.segment
                for clip in track["clips"]:
                    if "nested" in clip:
                        inner = comps[clip["nested"]]
                        sc = f.create.SourceClip(media_kind=track["kind"])
                        sc.mob = inner
                        sc.slot_id = inner.slots[0].slot_id
                        sc.start = 0
                        sc.length = clip.get("length", 1)
                    else:
                        master, slot_id = masters[clip["media"]]
                        sc = master.create_source_clip(slot_id=slot_id,
                                                       start=clip.get("start", 0), length=clip.get("length", 1))
                    seq.components.append(sc)


def link(f, path):
    """Links an OP-Atom file as Avid's export does. The files of one clip
    share a material package: the first file's link makes the master mob,
    each later one adds its track to it. Returns (master, slot id)."""
    mobs = f.content.link_external_mxf(path)
    src = [m for m in mobs if isinstance(m, aaf2.mobs.SourceMob)
           and not isinstance(m.descriptor, (aaf2.essence.TapeDescriptor, aaf2.essence.ImportDescriptor))][0]
    found = [m for m in mobs if isinstance(m, aaf2.mobs.MasterMob)]
    if found:
        master = found[0]
    else:
        material = [p for p in aaf2.mxf.MXFFile(path).packages()
                    if isinstance(p, aaf2.mxf.MXFMaterialPackage)][0].mob_id
        master = f.content.mobs.get(material)
    for slot in master.slots:
        seg = slot.segment
        for c in getattr(seg, "components", [seg]):
            if isinstance(c, aaf2.components.SourceClip) and c.mob_id == src.mob_id:
                return master, slot.slot_id
    kind = [s.media_kind for s in src.slots if s.media_kind.lower() in ("picture", "sound")][0]
    essence = [s for s in src.slots if s.media_kind == kind][0]
    slot = master.create_empty_sequence_slot(essence.edit_rate, media_kind=kind)
    slot.segment.components.append(src.create_source_clip(slot_id=essence.slot_id))
    return master, slot.slot_id


def synthetic(f, syn):
    """A master mob and its file source mob for media that is not at hand,
    with the file package UMID given in MXF byte order (pyaaf2 maps it to a
    MobID as it does when it links an MXF file)."""
    kind = syn.get("kind", "sound")
    src = f.create.SourceMob()
    src.name = syn["name"]
    d = f.create.SoundDescriptor()
    d["SampleRate"].value = 25
    d["AudioSamplingRate"].value = 48000
    d["Channels"].value = 1
    d["QuantizationBits"].value = 16
    d["Length"].value = 100
    src.descriptor = d
    src.mob_id = aaf2.mxf.decode_mob_id(bytes.fromhex(syn["file_umid"]))
    slot = src.create_empty_sequence_slot(25, media_kind=kind)
    slot.segment.components.append(f.create.SourceClip(media_kind=kind, length=100))
    f.content.mobs.append(src)
    master = f.create.MasterMob()
    master.name = syn["name"]
    if syn.get("material_umid"):
        master.mob_id = aaf2.mxf.decode_mob_id(bytes.fromhex(syn["material_umid"]))
    f.content.mobs.append(master)
    ms = master.create_empty_sequence_slot(25, media_kind=kind)
    ms.segment.components.append(src.create_source_clip(slot_id=slot.slot_id, start=0, length=100))
    return master


def file_mobs(segment, out, seen):
    if isinstance(segment, aaf2.components.Sequence):
        for c in segment.components:
            file_mobs(c, out, seen)
    elif isinstance(segment, aaf2.components.SourceClip):
        mob = segment.mob
        if isinstance(mob, aaf2.mobs.SourceMob):
            out.append(bytes(mob.mob_id.bytes_le).hex())
        elif mob is not None:
            for slot in mob.slots:
                if slot.slot_id == segment.slot_id:
                    file_mobs(slot.segment, out, seen)
    elif isinstance(segment, aaf2.components.OperationGroup):
        for s in segment.segments:
            file_mobs(s, out, seen)


def read(path):
    result = {}
    with aaf2.open(path, "r") as f:
        for comp in f.content.compositionmobs():
            out = []
            for slot in comp.slots:
                file_mobs(slot.segment, out, set())
            result[comp.name] = out
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    if sys.argv[1] == "make":
        with open(sys.argv[2]) as fh:
            make(json.load(fh))
    else:
        read(sys.argv[2])
